import Crypto
import Foundation
import LedgerCore
import LedgerWire
import SwiftASN1
import SwiftProtobuf
import X509

/// Fabric's `msp.SerializedIdentity`: an MSP id and the identity's PEM certificate. This is what a
/// header's `creator` and an endorsement's `endorser` carry.
package enum SerializedIdentity {
    package static func encode(mspID: String, certificate: Certificate) throws(IdentityError) -> [UInt8] {
        var message = Msp_SerializedIdentity()
        message.mspid = mspID
        do {
            message.idBytes = Data(try certificate.serializeAsPEM().pemString.utf8)
            return Array(try message.serializedData())
        } catch {
            throw IdentityError(.malformedCertificate, "certificate '\(certificate.subject)' could not be serialized")
        }
    }

    /// Decodes the bytes into the MSP id and certificate. Bad protobuf, an oversized or non-PEM
    /// certificate are `.malformedIdentity` errors; nothing is trusted yet (see `MembershipServiceProvider`).
    package static func decode(_ bytes: some DataProtocol) throws(IdentityError) -> (mspID: String, certificate: Certificate) {
        let message = try decodeMessage(bytes)
        guard message.idBytes.count <= Limits.identityCertificateBytesMax else {
            throw IdentityError(.malformedIdentity, "certificate of an identity of '\(message.mspid)' exceeds \(Limits.identityCertificateBytesMax) bytes")
        }
        do {
            let pem = String(decoding: message.idBytes, as: UTF8.self)
            return (message.mspid, try Certificate(pemEncoded: pem))
        } catch {
            throw IdentityError(.malformedIdentity, "identity of '\(message.mspid)' does not hold a PEM X.509 certificate")
        }
    }

    /// The MSP id the identity names, without parsing its certificate.
    package static func mspID(of bytes: some DataProtocol) throws(IdentityError) -> String {
        try decodeMessage(bytes).mspid
    }

    private static func decodeMessage(_ bytes: some DataProtocol) throws(IdentityError) -> Msp_SerializedIdentity {
        let message: Msp_SerializedIdentity
        do {
            message = try Msp_SerializedIdentity(serializedBytes: Data(bytes))
        } catch {
            throw IdentityError(.malformedIdentity, "serialized identity is not a valid msp.SerializedIdentity")
        }
        guard !message.mspid.isEmpty else {
            throw IdentityError(.malformedIdentity, "serialized identity has an empty MSP id")
        }
        return message
    }

    /// Distinguishes identities: the MSP id and the hex SHA-256 of the certificate's DER bytes, as
    /// Fabric compares signers. Not the serialized identity's bytes: the same certificate
    /// re-encoded (another PEM wrapping, an extra protobuf field) is the same identity, and
    /// counts once towards a policy.
    package static func identityID(mspID: String, certificate: Certificate) throws(IdentityError) -> String {
        var serializer = DER.Serializer()
        do {
            try serializer.serialize(certificate)
        } catch {
            throw IdentityError(.malformedCertificate, "certificate '\(certificate.subject)' cannot be re-encoded")
        }
        return mspID + ":" + SHA256.hash(data: serializer.serializedBytes).hexString
    }
}
