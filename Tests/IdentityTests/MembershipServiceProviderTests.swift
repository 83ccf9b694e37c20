import Crypto
import Foundation
import LedgerWire
import Testing
import TestSupport
import X509

@testable import Identity

@Suite struct MembershipServiceProviderTests {
    let pki: TestPKI

    init() throws { pki = try TestPKI() }

    @Test func acceptsItsOwnIdentitiesAndClassifiesTheirRoles() throws {
        let msp = try pki.msp()
        for role in IdentityRole.allCases {
            let identity = try pki.identity("member-\(role.rawValue)", units: [role.rawValue])
            let validated = try msp.validate(serializedIdentity: identity.serialized, at: TestPKI.now)
            #expect(validated.role == role)
            #expect(validated.mspID == "HospitalAMSP")
            #expect(validated.identityID == (try SerializedIdentity.identityID(mspID: "HospitalAMSP", certificate: identity.certificate)))
        }
    }

    /// The same certificate serialized another way (an unknown protobuf field appended) is the
    /// same identity: it cannot count twice towards a policy.
    @Test func reencodedIdentitiesAreTheSameIdentity() throws {
        let msp = try pki.msp()
        let peer = try pki.identity("peer0", units: ["peer"])
        let reencoded = Data(peer.serialized) + Data([0x1a, 0x01, 0x00])
        #expect(Data(peer.serialized) != reencoded)
        let first = try msp.validate(serializedIdentity: peer.serialized, at: TestPKI.now)
        let second = try msp.validate(serializedIdentity: reencoded, at: TestPKI.now)
        #expect(first.identityID == second.identityID)
        let policy = try EndorsementPolicy.parse("AND('HospitalAMSP.peer', 'HospitalAMSP.peer')")
        #expect(!policy.isSatisfied(by: [first.policySigner, second.policySigner]))
    }

    @Test func readsHealthcareAttributes() throws {
        let attributes = ["role": "md_student", "specialty": "cardiology", "is_trainee": "true", "hospital": "HospitalA"]
        let trainee = try pki.identity("trainee", attributes: attributes)
        #expect(try HealthcareAttributes.read(from: trainee.certificate) == attributes)
        let validated = try pki.msp().validate(serializedIdentity: trainee.serialized, at: TestPKI.now)
        #expect(validated.attributes == attributes)
        #expect(validated.policySigner.attributes["is_trainee"] == "true")
        // The extension carries Fabric CA's exact JSON shape, keys sorted.
        let raw = try #require(trainee.certificate.extensions[oid: HealthcareAttributes.extensionOID])
        #expect(String(decoding: raw.value, as: UTF8.self)
            == #"{"attrs":{"hospital":"HospitalA","is_trainee":"true","role":"md_student","specialty":"cardiology"}}"#)
        #expect(!raw.critical)
        let plain = try pki.identity("plain")
        #expect(try HealthcareAttributes.read(from: plain.certificate).isEmpty)
    }

    @Test func rejectsMalformedAttributeExtension() throws {
        let key = P256.Signing.PrivateKey()
        let bad = Certificate.Extension(oid: HealthcareAttributes.extensionOID, critical: false, value: ArraySlice("{\"attrs\":[1,2]}".utf8))
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: TestPKI.epoch, notValidAfter: TestPKI.now.addingTimeInterval(86_400),
            issuer: pki.ca.certificate.subject,
            subject: try CertificateAuthority.distinguishedName(commonName: "bad", organization: "x", organizationalUnits: ["client"]),
            signatureAlgorithm: .ecdsaWithSHA256, extensions: Certificate.Extensions([bad]),
            issuerPrivateKey: .init(pki.ca.privateKey))
        #expect(expectIdentityError { _ = try HealthcareAttributes.read(from: certificate) } == .malformedAttributes)
    }

    @Test func rejectsACertificateFromAnotherCA() throws {
        let stranger = try TestPKI(mspID: "HospitalAMSP", domain: "impostor.test").identity("eve")
        #expect(expectIdentityError { _ = try pki.msp().validate(serializedIdentity: stranger.serialized, at: TestPKI.now) } == .untrustedIssuer)
    }

    @Test func rejectsAnIdentityNamingAnotherMSP() throws {
        let other = try TestPKI(mspID: "HospitalBMSP", domain: "hospital-b.test").identity("bob")
        #expect(expectIdentityError { _ = try pki.msp().validate(serializedIdentity: other.serialized, at: TestPKI.now) } == .unknownMSP)
        let registry = MembershipRegistry([try pki.msp()])
        #expect(expectIdentityError { _ = try registry.validate(serializedIdentity: other.serialized, at: TestPKI.now) } == .unknownMSP)
    }

    /// One MSP instance throughout: the identity validated (and cached) first must still be
    /// refused outside its validity period, and accepted again inside it.
    @Test func enforcesTheValidityPeriod() throws {
        let shortLived = try pki.identity("visitor", days: 2)
        let msp = try pki.msp()
        _ = try msp.validate(serializedIdentity: shortLived.serialized, at: TestPKI.epoch.addingTimeInterval(86_400))
        #expect(expectIdentityError { _ = try msp.validate(serializedIdentity: shortLived.serialized, at: TestPKI.epoch.addingTimeInterval(3 * 86_400)) } == .expired)
        #expect(expectIdentityError { _ = try msp.validate(serializedIdentity: shortLived.serialized, at: TestPKI.epoch.addingTimeInterval(-60)) } == .notYetValid)
        #expect(try msp.validate(serializedIdentity: shortLived.serialized, at: TestPKI.epoch.addingTimeInterval(2 * 86_400 - 60)).role == .client)
    }

    @Test func rejectsRevokedCertificates() throws {
        let revoked = try pki.identity("former-employee")
        let active = try pki.identity("employee")
        let list = try pki.ca.revocationList(
            revoking: [revoked.certificate.serialNumber], thisUpdate: TestPKI.epoch, nextUpdate: TestPKI.now.addingTimeInterval(86_400))
        let msp = try pki.msp(revocationLists: [list])
        #expect(expectIdentityError { _ = try msp.validate(serializedIdentity: revoked.serialized, at: TestPKI.now) } == .revoked)
        _ = try msp.validate(serializedIdentity: active.serialized, at: TestPKI.now)
    }

    @Test func refusesACRLNotSignedByItsCAs() throws {
        let other = try TestPKI(domain: "other.test")
        let foreign = try other.ca.revocationList(revoking: [], thisUpdate: TestPKI.epoch, nextUpdate: TestPKI.now)
        #expect(expectIdentityError { _ = try pki.msp(revocationLists: [foreign]) } == .invalidConfiguration)
    }

    @Test func checksTheClaimedRoleAgainstTheNodeOU() throws {
        let client = try pki.identity("pretender", units: ["client"])
        let msp = try pki.msp()
        #expect(expectIdentityError { _ = try msp.validate(serializedIdentity: client.serialized, as: .peer, at: TestPKI.now) } == .roleMismatch)
        #expect(try msp.validate(serializedIdentity: client.serialized, as: .client, at: TestPKI.now).role == .client)
    }

    @Test func requiresExactlyOneNodeOU() throws {
        let msp = try pki.msp()
        let none = try pki.identity("no-ou", units: ["cardiology"])
        #expect(expectIdentityError { _ = try msp.validate(serializedIdentity: none.serialized, at: TestPKI.now) } == .missingNodeOU)
        let two = try pki.identity("two-ous", units: ["peer", "admin"])
        #expect(expectIdentityError { _ = try msp.validate(serializedIdentity: two.serialized, at: TestPKI.now) } == .ambiguousNodeOU)
    }

    @Test func followsIntermediateCAsAndTheirRevocation() throws {
        let intermediate = try pki.ca.issueIntermediate(
            commonName: "ica.hospital-a.test", notValidBefore: TestPKI.epoch, notValidAfter: TestPKI.now.addingTimeInterval(86_400 * 100))
        let nurse = try pki.identity("nurse", issuer: intermediate)
        let withIntermediate = try pki.msp(intermediates: [intermediate.certificate])
        #expect(try withIntermediate.validate(serializedIdentity: nurse.serialized, at: TestPKI.now).role == .client)
        #expect(expectIdentityError { _ = try pki.msp().validate(serializedIdentity: nurse.serialized, at: TestPKI.now) } == .untrustedIssuer)

        let revokedIntermediate = try pki.ca.revocationList(
            revoking: [intermediate.certificate.serialNumber], thisUpdate: TestPKI.epoch, nextUpdate: TestPKI.now.addingTimeInterval(86_400))
        let msp = try pki.msp(intermediates: [intermediate.certificate], revocationLists: [revokedIntermediate])
        #expect(expectIdentityError { _ = try msp.validate(serializedIdentity: nurse.serialized, at: TestPKI.now) } == .revoked)

        let leafRevocation = try intermediate.revocationList(
            revoking: [nurse.certificate.serialNumber], thisUpdate: TestPKI.epoch, nextUpdate: TestPKI.now.addingTimeInterval(86_400))
        let msp2 = try pki.msp(intermediates: [intermediate.certificate], revocationLists: [leafRevocation])
        #expect(expectIdentityError { _ = try msp2.validate(serializedIdentity: nurse.serialized, at: TestPKI.now) } == .revoked)
    }

    @Test func refusesACACertificateAsAnIdentity() throws {
        let bytes = try SerializedIdentity.encode(mspID: pki.mspID, certificate: pki.ca.certificate)
        #expect(expectIdentityError { _ = try pki.msp().validate(serializedIdentity: bytes, at: TestPKI.now) } == .malformedIdentity)
    }

    @Test func refusesATamperedCertificate() throws {
        let identity = try pki.identity("doctor", attributes: ["role": "consulting_doctor"])
        var der = try identity.certificate.serializeAsPEM().derBytes
        // Change the role inside the signed attribute extension: the CA's signature no longer holds.
        let needle = Array("consulting_doctor".utf8)
        let start = try #require(der.firstRange(of: needle))
        der.replaceSubrange(start, with: Array("consulting_doctoR".utf8))
        let tampered = try Certificate(derEncoded: der)
        #expect(try HealthcareAttributes.read(from: tampered)["role"] == "consulting_doctoR")
        let bytes = try SerializedIdentity.encode(mspID: pki.mspID, certificate: tampered)
        #expect(expectIdentityError { _ = try pki.msp().validate(serializedIdentity: bytes, at: TestPKI.now) } == .untrustedIssuer)
    }

    @Test func rejectsMalformedSerializedIdentities() throws {
        let msp = try pki.msp()
        #expect(expectIdentityError { _ = try msp.validate(serializedIdentity: [0xff, 0xff, 0xff], at: TestPKI.now) } == .malformedIdentity)
        var notPEM = Msp_SerializedIdentity()
        notPEM.mspid = pki.mspID
        notPEM.idBytes = Data("not a certificate".utf8)
        #expect(expectIdentityError { _ = try msp.validate(serializedIdentity: try notPEM.serializedData(), at: TestPKI.now) } == .malformedIdentity)
        var empty = Msp_SerializedIdentity()
        empty.idBytes = Data("x".utf8)
        #expect(expectIdentityError { _ = try msp.validate(serializedIdentity: try empty.serializedData(), at: TestPKI.now) } == .malformedIdentity)
    }

    @Test func registryVerifiesSignatureAndIdentityTogether() throws {
        let doctor = try pki.identity("dr", units: ["client"])
        let registry = MembershipRegistry([try pki.msp()])
        let message = Array("order 42".utf8)
        let signature = try doctor.sign(message)
        #expect(try registry.verify(signature: signature, over: message, by: doctor.serialized, at: TestPKI.now).role == .client)
        #expect(expectIdentityError { _ = try registry.verify(signature: signature, over: Array("order 43".utf8), by: doctor.serialized, at: TestPKI.now) } == .badSignature)
    }
}
