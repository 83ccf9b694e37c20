import Crypto
import Foundation
import LedgerCore
import X509

/// What one organization's MSP trusts: its root and intermediate CAs and their revocation lists.
package struct MSPConfiguration: Sendable {
    package var mspID: String
    package var rootCertificates: [Certificate]
    package var intermediateCertificates: [Certificate]
    package var revocationLists: [CertificateRevocationList]

    package init(
        mspID: String,
        rootCertificates: [Certificate],
        intermediateCertificates: [Certificate] = [],
        revocationLists: [CertificateRevocationList] = []
    ) {
        self.mspID = mspID
        self.rootCertificates = rootCertificates
        self.intermediateCertificates = intermediateCertificates
        self.revocationLists = revocationLists
    }
}

/// An identity its MSP accepted: chained to the MSP's CAs, inside its validity period, not revoked,
/// and classified by exactly one NodeOU.
package struct ValidatedIdentity: Sendable, Hashable {
    package let identityID: String
    package let mspID: String
    package let role: IdentityRole
    package let attributes: [String: String]
    package let certificate: Certificate
    package let publicKey: P256.Signing.PublicKey
    /// Fabric's client identity id, `x509::<subject DN>::<issuer DN>` (what chaincodes see as
    /// the caller's id), formatted once when the identity is validated.
    package let clientID: String

    package var policySigner: PolicySigner {
        PolicySigner(identityID: identityID, mspID: mspID, role: role, attributes: attributes)
    }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.identityID == rhs.identityID }
    package func hash(into hasher: inout Hasher) { hasher.combine(identityID) }
}

/// One organization's membership service provider, in the manner of Fabric's X.509 MSP with NodeOUs
/// enabled. Validation takes the time to validate at, so that peers agree: validation of a
/// transaction passes the transaction's timestamp, never the wall clock.
package struct MembershipServiceProvider: Sendable {
    package let mspID: String
    private let roots: [Certificate]
    private let intermediates: [Certificate]
    private let revocationLists: [CertificateRevocationList]
    private let cache = ValidatedIdentityCache(capacity: Limits.validatedIdentityCacheEntriesMax)

    /// Checks that every CRL is signed by one of the MSP's CAs; an unsigned or foreign CRL would
    /// otherwise be silently ignored, so it is a configuration error.
    package init(_ configuration: MSPConfiguration) throws(IdentityError) {
        guard !configuration.mspID.isEmpty else {
            throw IdentityError(.invalidConfiguration, "MSP id is empty")
        }
        guard !configuration.rootCertificates.isEmpty else {
            throw IdentityError(.invalidConfiguration, "MSP '\(configuration.mspID)' has no root CA certificate")
        }
        let authorities = configuration.rootCertificates + configuration.intermediateCertificates
        for list in configuration.revocationLists {
            let signed = authorities.contains { $0.subject == list.issuer && list.isSigned(by: $0.publicKey) }
            guard signed else {
                throw IdentityError(.invalidConfiguration, "a CRL of MSP '\(configuration.mspID)' issued by '\(list.issuer)' is not signed by any of its CAs")
            }
        }
        mspID = configuration.mspID
        roots = configuration.rootCertificates
        intermediates = configuration.intermediateCertificates
        revocationLists = configuration.revocationLists
    }

    /// Decodes a serialized identity and validates it (see `validate(certificate:at:)`). The
    /// identity must name this MSP.
    package func validate(serializedIdentity bytes: some DataProtocol, at time: Date) throws(IdentityError) -> ValidatedIdentity {
        let key = Data(bytes)
        if let cached = cache.identity(for: key, at: time) { return cached }
        let (claimedMSP, certificate) = try SerializedIdentity.decode(bytes)
        guard claimedMSP == mspID else {
            throw IdentityError(.unknownMSP, "identity claims MSP '\(claimedMSP)' but was given to MSP '\(mspID)'")
        }
        let (role, period) = try validateLeaf(certificate, at: time)
        guard let publicKey = P256.Signing.PublicKey(certificate.publicKey) else {
            throw IdentityError(.malformedCertificate, "certificate '\(certificate.subject)' does not hold an ECDSA P-256 key")
        }
        let identity = ValidatedIdentity(
            identityID: try SerializedIdentity.identityID(mspID: mspID, certificate: certificate),
            mspID: mspID,
            role: role,
            attributes: try HealthcareAttributes.read(from: certificate),
            certificate: certificate,
            publicKey: publicKey,
            clientID: "x509::\(certificate.subject)::\(certificate.issuer)"
        )
        cache.insert(.init(identity: identity, validFrom: period.from, validUntil: period.until), for: key)
        return identity
    }

    /// As `validate(serializedIdentity:at:)`, and the identity's NodeOU must be `claimedRole`.
    package func validate(
        serializedIdentity bytes: some DataProtocol, as claimedRole: IdentityRole, at time: Date
    ) throws(IdentityError) -> ValidatedIdentity {
        let identity = try validate(serializedIdentity: bytes, at: time)
        guard identity.role == claimedRole else {
            throw IdentityError(.roleMismatch, "identity '\(identity.certificate.subject)' of '\(mspID)' is a \(identity.role.rawValue), not a \(claimedRole.rawValue)")
        }
        return identity
    }

    /// Validates a leaf certificate: not a CA itself; signed through the MSP's intermediates up to
    /// one of its roots; every certificate of that chain valid at `time`; none revoked by a CRL of
    /// its issuer; exactly one NodeOU among client, peer, orderer and admin. Returns that role.
    package func validate(certificate: Certificate, at time: Date) throws(IdentityError) -> IdentityRole {
        try validateLeaf(certificate, at: time).role
    }

    /// The leaf's role and the period in which its whole chain is valid.
    private func validateLeaf(_ certificate: Certificate, at time: Date) throws(IdentityError) -> (role: IdentityRole, period: (from: Date, until: Date)) {
        if case .isCertificateAuthority = try? certificate.extensions.basicConstraints {
            throw IdentityError(.malformedIdentity, "certificate '\(certificate.subject)' is a CA certificate and cannot be an identity")
        }
        let period = try checkChain(from: certificate, at: time)
        return (try nodeRole(of: certificate), period)
    }

    /// Checks the chain from `leaf` to a root at `time`; returns the period in which every
    /// certificate of the chain is valid.
    private func checkChain(from leaf: Certificate, at time: Date) throws(IdentityError) -> (from: Date, until: Date) {
        var current = leaf
        var period = (from: Date.distantPast, until: Date.distantFuture)
        for _ in 0..<Limits.certificateChainLengthMax {
            try checkValidity(current, at: time)
            period = (max(period.from, current.notValidBefore), min(period.until, current.notValidAfter))
            if roots.contains(current) { return period }
            let issuer = try findIssuer(of: current)
            if revocationLists.contains(where: { $0.issuer == issuer.subject && $0.revokes(current.serialNumber) }) {
                throw IdentityError(.revoked, "certificate '\(current.subject)' serial \(current.serialNumber) is revoked by '\(issuer.subject)'")
            }
            current = issuer
        }
        throw IdentityError(.untrustedIssuer, "certificate '\(leaf.subject)' has a chain longer than \(Limits.certificateChainLengthMax) certificates")
    }

    private func findIssuer(of certificate: Certificate) throws(IdentityError) -> Certificate {
        let candidates = (roots + intermediates).filter { $0.subject == certificate.issuer }
        guard let issuer = candidates.first(where: { $0.publicKey.isValidSignature(certificate.signature, for: certificate) }) else {
            throw IdentityError(.untrustedIssuer, "certificate '\(certificate.subject)' is not signed by a CA of MSP '\(mspID)'")
        }
        guard case .isCertificateAuthority = try? issuer.extensions.basicConstraints else {
            throw IdentityError(.untrustedIssuer, "issuer '\(issuer.subject)' of MSP '\(mspID)' is not a CA certificate")
        }
        return issuer
    }

    private func checkValidity(_ certificate: Certificate, at time: Date) throws(IdentityError) {
        if time < certificate.notValidBefore {
            throw IdentityError(.notYetValid, "certificate '\(certificate.subject)' is not valid before \(certificate.notValidBefore)")
        }
        if time > certificate.notValidAfter {
            throw IdentityError(.expired, "certificate '\(certificate.subject)' expired at \(certificate.notValidAfter)")
        }
    }

    private func nodeRole(of certificate: Certificate) throws(IdentityError) -> IdentityRole {
        let units = certificate.subject.lazy.flatMap { $0 }
            .filter { $0.type == .RDNAttributeType.organizationalUnitName }
            .compactMap { String($0.value) }
        let roles = Set(units.compactMap { IdentityRole(rawValue: $0.lowercased()) })
        guard let role = roles.first else {
            throw IdentityError(.missingNodeOU, "certificate '\(certificate.subject)' has no NodeOU (client, peer, orderer or admin)")
        }
        guard roles.count == 1 else {
            throw IdentityError(.ambiguousNodeOU, "certificate '\(certificate.subject)' has more than one NodeOU")
        }
        return role
    }
}
