import Crypto
import Foundation
import X509

/// What a certificate is for; decides its key usage, extended key usage and whether it needs
/// subject alternative names.
package enum CertificateUsage: String, Sendable, Hashable {
    /// An MSP signing certificate (enrollment certificate): digital signature only.
    case signing
    /// A TLS certificate used by servers and as a client certificate for mutual TLS.
    case tls
}

/// A request to a `CertificateAuthority` for a leaf certificate.
package struct CertificateRequest: Sendable {
    package var commonName: String
    /// Subject OUs; a NodeOU role (`client`, `peer`, `orderer`, `admin`) goes here for signing certs.
    package var organizationalUnits: [String]
    package var publicKey: P256.Signing.PublicKey
    package var usage: CertificateUsage
    /// DNS names and IP addresses (both as text) for TLS certificates.
    package var subjectAlternativeNames: [String]
    /// Healthcare attributes written into the Fabric CA attribute extension; none when empty.
    package var attributes: [String: String]
    package var notValidBefore: Date
    package var notValidAfter: Date

    package init(
        commonName: String,
        organizationalUnits: [String] = [],
        publicKey: P256.Signing.PublicKey,
        usage: CertificateUsage,
        subjectAlternativeNames: [String] = [],
        attributes: [String: String] = [:],
        notValidBefore: Date,
        notValidAfter: Date
    ) {
        self.commonName = commonName
        self.organizationalUnits = organizationalUnits
        self.publicKey = publicKey
        self.usage = usage
        self.subjectAlternativeNames = subjectAlternativeNames
        self.attributes = attributes
        self.notValidBefore = notValidBefore
        self.notValidAfter = notValidAfter
    }
}
