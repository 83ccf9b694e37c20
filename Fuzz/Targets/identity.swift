// Fuzz target `identity`: bytes → SerializedIdentity.decode and MembershipServiceProvider
// validation against the fixed test MSPs (root + intermediate CA, a CRL), X.509 certificate
// parsing (PEM and DER) with NodeOU and healthcare-attribute reading, and CRL parsing (Identity).
import Crypto
import Foundation
import Identity
import LedgerWire
import SwiftASN1
import SwiftProtobuf
import X509

private let times = [FuzzPKI.now, FuzzPKI.epoch.addingTimeInterval(-1), FuzzPKI.epoch.addingTimeInterval(400 * 86_400)]
private let msp = FuzzNetwork.hospitalA.msp
private let membership = MembershipRegistry(FuzzNetwork.organizations.map(\.msp))
private let caKey = FuzzNetwork.hospitalA.root.certificate.publicKey

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    writeSeedsIfAsked {
        var seeds: [(name: String, bytes: Data)] = []
        for organization in FuzzNetwork.organizations {
            for (name, identity) in organization.identities.sorted(by: { $0.key < $1.key }) {
                seeds.append(("serialized-\(organization.mspID)-\(name)", Data(identity.serialized)))
            }
        }
        let doctor = FuzzNetwork.hospitalA["dr-carter"].certificate
        seeds.append(("cert-pem", Data(try doctor.serializeAsPEM().pemString.utf8)))
        var serializer = DER.Serializer()
        try serializer.serialize(doctor)
        seeds.append(("cert-der", Data(serializer.serializedBytes)))
        if let list = FuzzNetwork.hospitalA.revocationList {
            seeds.append(("crl-pem", Data(list.pemString.utf8)))
            seeds.append(("crl-der", Data(try PEMDocument(pemString: list.pemString).derBytes)))
        }
        if let directory = fabricVectorsDirectory() {
            for name in ["org1-user1-signcert.pem", "org1-ca.pem", "orderer-signcert.pem"] {
                if let pem = try? Data(contentsOf: directory.appendingPathComponent("msp/\(name)")) {
                    seeds.append(("fabric-\(name)", pem))
                    var identity = Msp_SerializedIdentity()
                    identity.mspid = "Org1MSP"
                    identity.idBytes = pem
                    seeds.append(("fabric-serialized-\(name)", try identity.serializedData()))
                }
            }
        }
        return seeds
    }
    _ = msp
    return 0
}

private func inspect(_ certificate: Certificate) {
    _ = try? HealthcareAttributes.read(from: certificate)
    _ = try? SerializedIdentity.identityID(mspID: "HospitalAMSP", certificate: certificate)
    for time in times { _ = try? msp.validate(certificate: certificate, at: time) }
    _ = P256.Signing.PublicKey(certificate.publicKey)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIdentity(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzData(data, size)
    // A serialized identity (what headers' creator and endorsements' endorser carry).
    if let (mspID, certificate) = try? SerializedIdentity.decode(bytes) {
        _ = mspID
        inspect(certificate)
    }
    _ = try? SerializedIdentity.mspID(of: bytes)
    for time in times {
        if let identity = try? membership.validate(serializedIdentity: bytes, at: time) {
            _ = identity.policySigner
            _ = try? msp.validate(serializedIdentity: bytes, as: .peer, at: time)
        }
    }
    // The bytes as a certificate or a CRL, PEM and DER.
    let text = String(decoding: bytes, as: UTF8.self)
    if let certificate = try? Certificate(pemEncoded: text) { inspect(certificate) }
    if let certificate = try? Certificate(derEncoded: Array(bytes)) { inspect(certificate) }
    for list in [try? CertificateRevocationList(pemEncoded: text), try? CertificateRevocationList(derEncoded: Array(bytes))] {
        guard let list else { continue }
        _ = list.isSigned(by: caKey)
        _ = list.revokes(FuzzNetwork.hospitalA["dr-carter"].certificate.serialNumber)
        _ = list.pemString
        // An MSP configured with it (refused unless one of its CAs signed it).
        _ = try? MembershipServiceProvider(MSPConfiguration(
            mspID: "HospitalAMSP", rootCertificates: [FuzzNetwork.hospitalA.root.certificate], revocationLists: [list]))
    }
    return 0
}
