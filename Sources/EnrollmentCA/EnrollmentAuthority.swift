import Crypto
import Foundation
import Identity
import LedgerCore
import SwiftASN1
import X509

/// The enrollment CA of one organization: it registers identities (by a registrar), enrolls them
/// from a certificate signing request (the key never leaves the client), reenrolls them, revokes
/// their certificates and signs CRLs, keeping its registry in a `CARegistry`. The rules follow
/// Fabric CA: a registrar registers the types its `hf.Registrar.Roles` attribute lists (`*`: any)
/// and only attributes its `hf.Registrar.Attributes` allows (healthcare attributes by default),
/// a revoker has `hf.Revoker=true`, CRLs need `hf.GenCRL=true`; a secret is good for
/// `max_enrollments` enrollments (1 by default: a one-time secret).
package final class EnrollmentAuthority: Sendable {
    /// The NodeOU types an identity may have (our MSPs read exactly one of them).
    package static let types: Set<String> = ["client", "peer", "orderer", "admin"]
    /// Revocation reasons, as Fabric CA names them.
    package static let reasons: Set<String> = [
        "unspecified", "keycompromise", "cacompromise", "affiliationchanged", "superseded", "cessationofoperation", "certificatehold", "removefromcrl",
        "privilegewithdrawn", "aacompromise",
    ]

    package let name: String
    package let authority: CertificateAuthority
    package let registry: any CARegistry
    /// How long enrollment certificates are valid (never past the CA's own validity).
    private let validity: TimeInterval
    private let now: @Sendable () -> Date

    package init(name: String, authority: CertificateAuthority, registry: any CARegistry, validityDays: Int = 365, now: @escaping @Sendable () -> Date = { Date() }) {
        self.name = name
        self.authority = authority
        self.registry = registry
        validity = TimeInterval(max(1, validityDays)) * 86_400
        self.now = now
    }

    /// Registers the bootstrap registrar (`hf.Registrar.Roles=*`, revoker, CRL signer) unless it exists.
    package func bootstrap(id: String, secret: String) async throws(EnrollmentError) {
        guard try await registry.identity(id) == nil else { return }
        try await registry.insert(RegisteredIdentity(
            id: id, type: "client", affiliation: "",
            attributes: [
                .init(name: "hf.Registrar.Roles", value: "*", ecert: true), .init(name: "hf.Registrar.Attributes", value: "*", ecert: true),
                .init(name: "hf.Revoker", value: "true", ecert: true), .init(name: "hf.GenCRL", value: "true", ecert: true),
            ],
            maxEnrollments: -1, secretHash: RegisteredIdentity.hash(secret: secret)))
    }

    // MARK: - Register

    package struct Registration: Sendable {
        package var id: String
        package var type: String
        package var secret: String?
        package var maxEnrollments: Int?
        package var affiliation: String
        package var attributes: [RegisteredIdentity.Attribute]

        package init(id: String, type: String = "", secret: String? = nil, maxEnrollments: Int? = nil, affiliation: String = "", attributes: [RegisteredIdentity.Attribute] = []) {
            self.id = id
            self.type = type
            self.secret = secret
            self.maxEnrollments = maxEnrollments
            self.affiliation = affiliation
            self.attributes = attributes
        }
    }

    /// Registers `request` on behalf of `registrar`; the secret (generated when none was given).
    package func register(_ request: Registration, by registrar: RegisteredIdentity) async throws(EnrollmentError) -> String {
        guard Self.isIdentifier(request.id) else {
            throw EnrollmentError(.badRequest, "the id must be 1-64 letters, digits, '.', '@', '-' or '_'")
        }
        let type = request.type.isEmpty ? registrar.type : request.type
        guard Self.types.contains(type) else { throw EnrollmentError(.badRequest, "type '\(type.prefix(32))' is not one of client, peer, orderer, admin") }
        let roles = registrar.attribute("hf.Registrar.Roles")?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        guard roles.contains("*") || roles.contains(type) else {
            throw EnrollmentError(.forbidden, "'\(registrar.id)' may not register identities of type \(type) (hf.Registrar.Roles)")
        }
        let allowed = registrar.attribute("hf.Registrar.Attributes")?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        for attribute in request.attributes {
            guard !attribute.name.isEmpty, attribute.name.utf8.count <= 64, attribute.value.utf8.count <= 256 else {
                throw EnrollmentError(.badRequest, "attribute names are 1-64 bytes and values at most 256")
            }
            guard !["hf.EnrollmentID", "hf.Type", "hf.Affiliation"].contains(attribute.name) else {
                throw EnrollmentError(.badRequest, "attribute \(attribute.name) is set by the CA and cannot be registered")
            }
            // A registrar gives the boolean hf. powers only if it has them itself.
            if ["hf.Revoker", "hf.GenCRL", "hf.IntermediateCA", "hf.AffiliationMgr"].contains(attribute.name), attribute.value == "true",
                registrar.attribute(attribute.name) != "true"
            {
                throw EnrollmentError(.forbidden, "'\(registrar.id)' may not give \(attribute.name) without having it")
            }
            let mayGive = allowed.contains("*") || allowed.contains(attribute.name)
                || allowed.contains { $0.hasSuffix("*") && attribute.name.hasPrefix($0.dropLast()) }
                || (!attribute.name.hasPrefix("hf.") && allowed.isEmpty && roles.contains("*"))
            guard mayGive else { throw EnrollmentError(.forbidden, "'\(registrar.id)' may not give attribute \(attribute.name.prefix(64)) (hf.Registrar.Attributes)") }
        }
        // Affiliations are a hierarchy (`hospital-a.cardiology.ward4`): a registrar registers within
        // its own; empty means the registrar's, `.` the root (only a root registrar may).
        let affiliation = request.affiliation.isEmpty ? registrar.affiliation : (request.affiliation == "." ? "" : request.affiliation)
        guard registrar.affiliation.isEmpty || affiliation == registrar.affiliation || affiliation.hasPrefix(registrar.affiliation + ".") else {
            throw EnrollmentError(.forbidden, "'\(registrar.id)' of affiliation '\(registrar.affiliation)' may not register into '\(affiliation.prefix(64))'")
        }
        let maxEnrollments = request.maxEnrollments ?? 1
        guard maxEnrollments == -1 || maxEnrollments >= 1 else { throw EnrollmentError(.badRequest, "max_enrollments must be -1 (unlimited) or at least 1") }
        let secret = request.secret.flatMap { $0.isEmpty ? nil : $0 } ?? Self.makeSecret()
        try await registry.insert(RegisteredIdentity(
            id: request.id, type: type, affiliation: affiliation, attributes: request.attributes, maxEnrollments: maxEnrollments,
            secretHash: RegisteredIdentity.hash(secret: secret)))
        return secret
    }

    // MARK: - Enroll

    /// Issues a certificate for `id`, authenticated by its secret, for the key of `csr`.
    /// `attributeRequests`: attribute names to include (nil: the `ecert` ones); a requested
    /// attribute the identity lacks is refused unless optional.
    package func enroll(id: String, secret: String, csr: String, attributeRequests: [(name: String, optional: Bool)]? = nil) async throws(EnrollmentError) -> Certificate {
        let key = try Self.publicKey(of: csr, commonName: id)
        let identity = try await registry.consumeEnrollment(of: id, secret: secret)
        return try await issue(for: identity, key: key, attributeRequests: attributeRequests)
    }

    /// A new certificate for the caller (authenticated by its current certificate) and `csr`'s key.
    package func reenroll(_ caller: RegisteredIdentity, csr: String, attributeRequests: [(name: String, optional: Bool)]? = nil) async throws(EnrollmentError) -> Certificate {
        guard !caller.revoked else { throw EnrollmentError(.exhausted, "identity '\(caller.id)' is revoked") }
        return try await issue(for: caller, key: try Self.publicKey(of: csr, commonName: caller.id), attributeRequests: attributeRequests)
    }

    private func issue(for identity: RegisteredIdentity, key: P256.Signing.PublicKey, attributeRequests: [(name: String, optional: Bool)]?) async throws(EnrollmentError) -> Certificate {
        var attributes: [String: String] = [:]
        if let attributeRequests {
            for request in attributeRequests {
                if let value = identity.attribute(request.name) {
                    attributes[request.name] = value
                } else if !request.optional {
                    throw EnrollmentError(.badRequest, "identity '\(identity.id)' has no attribute \(request.name.prefix(64))")
                }
            }
        } else {
            for attribute in identity.attributes where attribute.ecert { attributes[attribute.name] = attribute.value }
        }
        attributes["hf.EnrollmentID"] = identity.id
        attributes["hf.Type"] = identity.type
        attributes["hf.Affiliation"] = identity.affiliation
        let start = now().addingTimeInterval(-300)
        let end = min(now().addingTimeInterval(validity), authority.certificate.notValidAfter)
        let certificate: Certificate
        do {
            certificate = try authority.issue(CertificateRequest(
                commonName: identity.id, organizationalUnits: [identity.type], publicKey: key, usage: .signing, attributes: attributes,
                notValidBefore: start, notValidAfter: end))
        } catch {
            throw EnrollmentError(.badRequest, "the certificate cannot be issued: \(error.reason)")
        }
        try await registry.addCertificate(IssuedCertificate(
            serial: Self.serial(certificate), id: identity.id, pem: (try? certificate.serializeAsPEM().pemString) ?? "", notAfter: end))
        return certificate
    }

    // MARK: - Revoke and CRLs

    /// Revokes every certificate of `id` (and the identity: it may not enroll again), or the one
    /// certificate with `serial`, on behalf of `revoker`; the certificates newly revoked.
    package func revoke(id: String?, serial: String?, reason: String, by revoker: RegisteredIdentity) async throws(EnrollmentError) -> [IssuedCertificate] {
        let ownCertificates = try await registry.certificates(of: revoker.id).map(\.serial)
        let isSelf = (id == revoker.id && (serial ?? "").isEmpty) || (serial.map { ownCertificates.contains(Self.normalize(serial: $0)) } ?? false)
        guard revoker.attribute("hf.Revoker") == "true" || isSelf else { throw EnrollmentError(.forbidden, "'\(revoker.id)' may not revoke others (hf.Revoker)") }
        let reason = reason.isEmpty ? "unspecified" : reason.lowercased()
        guard Self.reasons.contains(reason) else { throw EnrollmentError(.badRequest, "unknown revocation reason '\(reason.prefix(32))'") }
        if let serial, !serial.isEmpty {
            let normalized = Self.normalize(serial: serial)
            guard let certificate = try await registry.certificate(serial: normalized) else { throw EnrollmentError(.notFound, "no certificate with serial \(normalized.prefix(64))") }
            if let id, !id.isEmpty, certificate.id != id { throw EnrollmentError(.badRequest, "certificate \(normalized) is not '\(id)''s") }
            return try await registry.revoke(serials: [normalized], identity: nil, at: now(), reason: reason)
        }
        guard let id, !id.isEmpty else { throw EnrollmentError(.badRequest, "name the identity (id) or the certificate (serial) to revoke") }
        guard try await registry.identity(id) != nil else { throw EnrollmentError(.notFound, "no identity '\(id.prefix(64))'") }
        let serials = try await registry.certificates(of: id).map(\.serial)
        return try await registry.revoke(serials: serials, identity: id, at: now(), reason: reason)
    }

    /// A CRL of every revoked certificate not yet expired, signed by the CA, valid for `days`.
    package func revocationList(days: Int = 7) async throws(EnrollmentError) -> CertificateRevocationList {
        let time = now()
        let revoked = try await registry.revokedCertificates(notExpiredAt: time)
        do {
            return try authority.revocationList(
                revoking: revoked.compactMap { [UInt8](hexString: $0.serial).map(Certificate.SerialNumber.init(bytes:)) },
                thisUpdate: time, nextUpdate: time.addingTimeInterval(TimeInterval(max(1, days)) * 86_400))
        } catch {
            throw EnrollmentError(.storage, "the CRL cannot be signed: \(error.reason)")
        }
    }

    // MARK: - Authentication

    /// The registered identity whose certificate `certificate` is: issued by this CA, valid now,
    /// not revoked.
    package func identity(presenting certificate: Certificate) async throws(EnrollmentError) -> RegisteredIdentity {
        guard certificate.issuer == authority.certificate.subject,
            authority.certificate.publicKey.isValidSignature(certificate.signature, for: certificate)
        else { throw EnrollmentError(.unauthorized, "the certificate was not issued by this CA") }
        let time = now()
        guard certificate.notValidBefore <= time, time <= certificate.notValidAfter else { throw EnrollmentError(.unauthorized, "the certificate is not valid now") }
        guard let issued = try await registry.certificate(serial: Self.serial(certificate)) else {
            throw EnrollmentError(.unauthorized, "the certificate is not in this CA's registry")
        }
        guard issued.revokedAt == nil else { throw EnrollmentError(.unauthorized, "the certificate is revoked") }
        guard let identity = try await registry.identity(issued.id) else { throw EnrollmentError(.unauthorized, "the certificate's identity is not registered") }
        guard !identity.revoked else { throw EnrollmentError(.unauthorized, "identity '\(identity.id)' is revoked") }
        return identity
    }

    /// Fabric CA's token authentication: `Authorization: B64(cert PEM).B64(signature)`, the
    /// signature (ECDSA, SHA-256) over `method.B64(uri).B64(body).B64(cert PEM)`.
    package func authenticate(token: String, method: String, uri: String, body: [UInt8]) async throws(EnrollmentError) -> RegisteredIdentity {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let certificatePEM = Data(base64Encoded: String(parts[0])), let signature = Data(base64Encoded: String(parts[1])),
            let certificate = try? Certificate(pemEncoded: String(decoding: certificatePEM, as: UTF8.self))
        else { throw EnrollmentError(.unauthorized, "the authorization token is not B64(certificate).B64(signature)") }
        let payload = method + "." + Data(uri.utf8).base64EncodedString() + "." + Data(body).base64EncodedString() + "." + String(parts[0])
        // Low-S only, as Fabric CA (its client normalizes).
        guard let key = P256.Signing.PublicKey(certificate.publicKey), (try? SignatureVerifier.verify(signature: signature, over: Data(payload.utf8), publicKey: key)) != nil
        else { throw EnrollmentError(.unauthorized, "the authorization token's signature does not verify") }
        return try await identity(presenting: certificate)
    }

    // MARK: - Helpers

    /// The P-256 public key of a PEM certificate signing request whose signature verifies.
    package static func publicKey(of csr: String, commonName: String) throws(EnrollmentError) -> P256.Signing.PublicKey {
        guard let request = try? CertificateSigningRequest(pemEncoded: csr) else {
            throw EnrollmentError(.badRequest, "certificate_request is not a PEM certificate signing request")
        }
        let names = request.subject.lazy.flatMap { $0 }.filter { $0.type == .RDNAttributeType.commonName }.map { String(describing: $0.value) }
        guard Array(names) == [commonName] else {
            throw EnrollmentError(.forbidden, "the certificate signing request's CN must be the enrollment id '\(commonName)'")
        }
        guard request.publicKey.isValidSignature(request.signature, for: request) else {
            throw EnrollmentError(.badRequest, "the certificate signing request's signature does not verify")
        }
        guard let key = P256.Signing.PublicKey(request.publicKey) else { throw EnrollmentError(.badRequest, "only ECDSA P-256 keys are supported") }
        return key
    }

    /// A certificate's serial number in lower-case hex without leading zeros (as Fabric CA's
    /// client prints it); `Certificate.SerialNumber(bytes:)` of its bytes gives the number back.
    package static func serial(_ certificate: Certificate) -> String { normalize(serial: Array(certificate.serialNumber.bytes).hexString) }

    /// A serial in hex as clients give it (any case, with or without leading zeros or colons).
    package static func normalize(serial: String) -> String {
        var hex = serial.lowercased().filter { $0 != ":" }
        if hex.hasPrefix("0x") { hex.removeFirst(2) }
        while hex.hasPrefix("00") { hex.removeFirst(2) }
        return hex.count % 2 == 1 ? "0" + hex : hex
    }

    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64 && text.allSatisfy { ($0.isLetter || $0.isNumber) && $0.isASCII || "._@-".contains($0) }
    }

    static func makeSecret() -> String {
        Data((0..<18).map { _ in UInt8.random(in: 0...255) }).base64EncodedString().replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "+", with: "-")
    }
}
