import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate authority: its certificate and signing key. Issues intermediate CAs, leaf
/// certificates (signing and TLS) and certificate revocation lists. Keys are ECDSA P-256 and
/// certificates are signed with ECDSA-with-SHA256, as Fabric's cryptogen does.
package struct CertificateAuthority: Sendable {
    package let certificate: Certificate
    package let privateKey: P256.Signing.PrivateKey

    package init(certificate: Certificate, privateKey: P256.Signing.PrivateKey) throws(IdentityError) {
        guard certificate.publicKey == Certificate.PublicKey(privateKey.publicKey) else {
            throw IdentityError(.invalidConfiguration, "CA key does not match CA certificate '\(certificate.subject)'")
        }
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// A self-signed root CA with subject `CN=commonName, O=organization`.
    package static func makeRoot(
        commonName: String,
        organization: String,
        notValidBefore: Date,
        notValidAfter: Date,
        privateKey: P256.Signing.PrivateKey = P256.Signing.PrivateKey()
    ) throws(IdentityError) -> CertificateAuthority {
        let subject = try distinguishedName(commonName: commonName, organization: organization, organizationalUnits: [])
        let certificate = try sign(
            subject: subject,
            publicKey: privateKey.publicKey,
            notValidBefore: notValidBefore,
            notValidAfter: notValidAfter,
            extensions: try caExtensions(publicKey: privateKey.publicKey, issuerKey: privateKey.publicKey),
            issuerName: subject,
            issuerKey: privateKey
        )
        return try CertificateAuthority(certificate: certificate, privateKey: privateKey)
    }

    /// An intermediate CA signed by this CA; its subject keeps this CA's organization.
    package func issueIntermediate(
        commonName: String,
        notValidBefore: Date,
        notValidAfter: Date,
        privateKey: P256.Signing.PrivateKey = P256.Signing.PrivateKey()
    ) throws(IdentityError) -> CertificateAuthority {
        let subject = try Self.distinguishedName(commonName: commonName, organization: organization, organizationalUnits: [])
        let certificate = try Self.sign(
            subject: subject,
            publicKey: privateKey.publicKey,
            notValidBefore: notValidBefore,
            notValidAfter: notValidAfter,
            extensions: try Self.caExtensions(publicKey: privateKey.publicKey, issuerKey: self.privateKey.publicKey),
            issuerName: certificate.subject,
            issuerKey: self.privateKey
        )
        return try CertificateAuthority(certificate: certificate, privateKey: privateKey)
    }

    /// A leaf certificate for `request`, signed by this CA.
    package func issue(_ request: CertificateRequest) throws(IdentityError) -> Certificate {
        let subject = try Self.distinguishedName(
            commonName: request.commonName, organization: organization, organizationalUnits: request.organizationalUnits)
        return try Self.sign(
            subject: subject,
            publicKey: request.publicKey,
            notValidBefore: request.notValidBefore,
            notValidAfter: request.notValidAfter,
            extensions: try leafExtensions(request),
            issuerName: certificate.subject,
            issuerKey: privateKey
        )
    }

    /// A CRL, signed by this CA, listing `revokedSerialNumbers`.
    package func revocationList(
        revoking revokedSerialNumbers: [Certificate.SerialNumber],
        thisUpdate: Date,
        nextUpdate: Date
    ) throws(IdentityError) -> CertificateRevocationList {
        try CertificateRevocationList.make(
            issuer: certificate.subject,
            revoked: revokedSerialNumbers.map { .init(serialNumber: $0, revocationDate: thisUpdate) },
            thisUpdate: thisUpdate,
            nextUpdate: nextUpdate,
            signer: privateKey
        )
    }

    /// The O attribute of this CA's subject; issued certificates carry the same organization.
    package var organization: String {
        certificate.subject.lazy.flatMap { $0 }.first { $0.type == .RDNAttributeType.organizationName }
            .flatMap { String($0.value) } ?? ""
    }

    // MARK: - Building blocks

    static func distinguishedName(
        commonName: String, organization: String, organizationalUnits: [String]
    ) throws(IdentityError) -> DistinguishedName {
        do {
            var attributes: [RelativeDistinguishedName] = []
            if !organization.isEmpty {
                attributes.append(RelativeDistinguishedName(try .init(type: .RDNAttributeType.organizationName, printableString: organization)))
            }
            for unit in organizationalUnits {
                attributes.append(RelativeDistinguishedName(.init(type: .RDNAttributeType.organizationalUnitName, utf8String: unit)))
            }
            attributes.append(RelativeDistinguishedName(.init(type: .RDNAttributeType.commonName, utf8String: commonName)))
            return DistinguishedName(attributes)
        } catch {
            throw IdentityError(.issuanceFailed, "subject for '\(commonName)' could not be encoded: \(error)")
        }
    }

    private static func caExtensions(
        publicKey: P256.Signing.PublicKey, issuerKey: P256.Signing.PublicKey
    ) throws(IdentityError) -> Certificate.Extensions {
        do {
            return try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(publicKey))
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: Certificate.PublicKey(issuerKey)).keyIdentifier)
            }
        } catch {
            throw IdentityError(.issuanceFailed, "CA extensions could not be encoded: \(error)")
        }
    }

    private func leafExtensions(_ request: CertificateRequest) throws(IdentityError) -> Certificate.Extensions {
        let names = try Self.generalNames(request.subjectAlternativeNames)
        let attributeExtension = request.attributes.isEmpty ? nil : try HealthcareAttributes.makeExtension(request.attributes)
        let issuerKeyIdentifier = SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
        do {
            return try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                SubjectKeyIdentifier(hash: Certificate.PublicKey(request.publicKey))
                AuthorityKeyIdentifier(keyIdentifier: issuerKeyIdentifier)
                switch request.usage {
                case .signing:
                    Critical(KeyUsage(digitalSignature: true))
                case .tls:
                    Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                    try ExtendedKeyUsage([.serverAuth, .clientAuth])
                }
                if !names.isEmpty { SubjectAlternativeNames(names) }
                if let attributeExtension { attributeExtension }
            }
        } catch {
            throw IdentityError(.issuanceFailed, "extensions for '\(request.commonName)' could not be encoded: \(error)")
        }
    }

    private static func generalNames(_ names: [String]) throws(IdentityError) -> [GeneralName] {
        var result: [GeneralName] = []
        for name in names {
            if let address = IPAddress(name) {
                result.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(address.bytes))))
            } else if name.isEmpty || name.contains(where: { $0 == " " || $0 == "/" }) {
                throw IdentityError(.issuanceFailed, "'\(name)' is neither a host name nor an IP address")
            } else {
                result.append(.dnsName(name))
            }
        }
        return result
    }

    private static func sign(
        subject: DistinguishedName,
        publicKey: P256.Signing.PublicKey,
        notValidBefore: Date,
        notValidAfter: Date,
        extensions: Certificate.Extensions,
        issuerName: DistinguishedName,
        issuerKey: P256.Signing.PrivateKey
    ) throws(IdentityError) -> Certificate {
        guard notValidBefore < notValidAfter else {
            throw IdentityError(.issuanceFailed, "certificate '\(subject)' would expire before it becomes valid")
        }
        do {
            return try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(publicKey),
                notValidBefore: notValidBefore,
                notValidAfter: notValidAfter,
                issuer: issuerName,
                subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: Certificate.PrivateKey(issuerKey)
            )
        } catch {
            throw IdentityError(.issuanceFailed, "certificate '\(subject)' could not be signed: \(error)")
        }
    }
}

/// An IPv4 or IPv6 address parsed from text, as the bytes a certificate's SAN carries.
struct IPAddress {
    let bytes: [UInt8]

    init?(_ text: String) {
        if let bytes = Self.parse(text, family: AF_INET, size: 4) ?? Self.parse(text, family: AF_INET6, size: 16) {
            self.bytes = bytes
        } else {
            return nil
        }
    }

    private static func parse(_ text: String, family: Int32, size: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: size)
        let parsed = buffer.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return parsed == 1 ? buffer : nil
    }
}
