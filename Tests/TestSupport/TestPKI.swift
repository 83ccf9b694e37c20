import Crypto
import Foundation
import Identity
import X509

/// A throwaway organization for tests: a root CA and identities issued by it at a fixed time.
package struct TestPKI {
    package static let epoch = Date(timeIntervalSince1970: 1_790_000_000)  // 2026-09-21
    package let mspID: String
    package let ca: CertificateAuthority

    package init(mspID: String = "HospitalAMSP", domain: String = "hospital-a.test") throws {
        self.mspID = mspID
        ca = try CertificateAuthority.makeRoot(
            commonName: "ca.\(domain)", organization: domain,
            notValidBefore: Self.epoch, notValidAfter: Self.epoch.addingTimeInterval(365 * 86_400))
    }

    /// A signing identity with the given NodeOUs and attributes, valid for `days` from the epoch.
    package func identity(
        _ name: String,
        units: [String] = ["client"],
        attributes: [String: String] = [:],
        days: Double = 30,
        issuer: CertificateAuthority? = nil
    ) throws -> SigningIdentity {
        let key = P256.Signing.PrivateKey()
        let certificate = try (issuer ?? ca).issue(CertificateRequest(
            commonName: name, organizationalUnits: units, publicKey: key.publicKey, usage: .signing,
            attributes: attributes, notValidBefore: Self.epoch, notValidAfter: Self.epoch.addingTimeInterval(days * 86_400)))
        return try SigningIdentity(mspID: mspID, certificate: certificate, privateKey: key)
    }

    package func msp(
        intermediates: [Certificate] = [], revocationLists: [CertificateRevocationList] = []
    ) throws -> MembershipServiceProvider {
        try MembershipServiceProvider(MSPConfiguration(
            mspID: mspID, rootCertificates: [ca.certificate], intermediateCertificates: intermediates,
            revocationLists: revocationLists))
    }

    /// A time inside every test certificate's validity.
    package static let now = epoch.addingTimeInterval(86_400)
}
