import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LedgerCore

/// The codes of an enrollment CA's refusals (`EnrollmentError`).
package enum EnrollmentErrorCode: String, DomainErrorCode {
    /// A request that does not decode, or asks for something malformed (a CSR that does not verify).
    case badRequest
    /// No credentials, wrong credentials, or a token that does not verify.
    case unauthorized
    /// The caller may not do this (not a registrar for that type, not a revoker).
    case forbidden
    /// No such identity or certificate.
    case notFound
    /// The identity exists already.
    case conflict
    /// The identity's enrollments are used up, or it is revoked.
    case exhausted
    /// The registry could not be read or written.
    case storage
}

/// An enrollment CA's refusal, with a reason for the caller (never a secret).
package typealias EnrollmentError = DomainError<EnrollmentErrorCode>

/// One identity registered with the CA (Fabric CA's registry entry).
package struct RegisteredIdentity: Codable, Sendable, Hashable {
    package struct Attribute: Codable, Sendable, Hashable {
        package var name: String
        package var value: String
        /// Whether the attribute goes into enrollment certificates by default.
        package var ecert: Bool

        package init(name: String, value: String, ecert: Bool) {
            self.name = name
            self.value = value
            self.ecert = ecert
        }
    }

    package var id: String
    /// client, peer, orderer or admin: the NodeOU of its certificates.
    package var type: String
    package var affiliation: String
    package var attributes: [Attribute]
    /// How many enrollments the secret allows; -1: unlimited.
    package var maxEnrollments: Int
    package var enrollments: Int
    /// Salted SHA-256 of the secret, `salt-hex:hash-hex`.
    package var secretHash: String
    package var revoked: Bool

    package init(
        id: String, type: String, affiliation: String, attributes: [Attribute], maxEnrollments: Int, enrollments: Int = 0, secretHash: String, revoked: Bool = false
    ) {
        self.id = id
        self.type = type
        self.affiliation = affiliation
        self.attributes = attributes
        self.maxEnrollments = maxEnrollments
        self.enrollments = enrollments
        self.secretHash = secretHash
        self.revoked = revoked
    }

    package func attribute(_ name: String) -> String? { attributes.first { $0.name == name }?.value }

    /// The salted hash of `secret`.
    package static func hash(secret: String, salt: [UInt8] = (0..<16).map { _ in UInt8.random(in: 0...255) }) -> String {
        let digest = SHA256.hash(data: salt + Array(secret.utf8))
        return salt.hexString + ":" + Array(digest).hexString
    }

    /// Whether `secret` is the registered one (compared in constant time).
    package func matches(secret: String) -> Bool {
        let parts = secretHash.split(separator: ":")
        guard parts.count == 2, let salt = [UInt8](hexString: parts[0]) else { return false }
        let expected = Array(Self.hash(secret: secret, salt: salt).utf8)
        let stored = Array(secretHash.utf8)
        guard expected.count == stored.count else { return false }
        return zip(expected, stored).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// A certificate the CA issued, and its revocation.
package struct IssuedCertificate: Codable, Sendable, Hashable {
    /// Lower-case hex of the serial number's bytes.
    package var serial: String
    package var id: String
    package var pem: String
    package var notAfter: Date
    package var revokedAt: Date?
    package var reason: String?

    package init(serial: String, id: String, pem: String, notAfter: Date, revokedAt: Date? = nil, reason: String? = nil) {
        self.serial = serial
        self.id = id
        self.pem = pem
        self.notAfter = notAfter
        self.revokedAt = revokedAt
        self.reason = reason
    }
}

/// Where an enrollment CA keeps its identities and the certificates it issued: the embedded file
/// store (`FileCARegistry`) or PostgreSQL. Each operation is atomic.
package protocol CARegistry: Sendable {
    func identity(_ id: String) async throws(EnrollmentError) -> RegisteredIdentity?
    /// Adds a new identity; `.conflict` when one has that id.
    func insert(_ identity: RegisteredIdentity) async throws(EnrollmentError)
    /// Counts one enrollment of `id` if its secret is `secret`, it is not revoked and its
    /// enrollments are not used up; the identity as it now stands.
    func consumeEnrollment(of id: String, secret: String) async throws(EnrollmentError) -> RegisteredIdentity
    func addCertificate(_ certificate: IssuedCertificate) async throws(EnrollmentError)
    func certificates(of id: String) async throws(EnrollmentError) -> [IssuedCertificate]
    func certificate(serial: String) async throws(EnrollmentError) -> IssuedCertificate?
    /// Marks the certificates revoked (those not yet), and with `identity` the identity too (it
    /// may not enroll again); returns the certificates newly revoked.
    func revoke(serials: [String], identity: String?, at time: Date, reason: String) async throws(EnrollmentError) -> [IssuedCertificate]
    /// Every revoked certificate that has not expired by `time`.
    func revokedCertificates(notExpiredAt time: Date) async throws(EnrollmentError) -> [IssuedCertificate]
}

/// The embedded registry: one JSON file, rewritten atomically (temporary file, fsync, rename) on
/// every change, so a crash leaves the old or the new registry, never half of one.
package actor FileCARegistry: CARegistry {
    private struct Contents: Codable {
        var identities: [String: RegisteredIdentity] = [:]
        var certificates: [String: IssuedCertificate] = [:]
    }

    private let file: URL
    private var contents: Contents

    package init(file: URL) throws(EnrollmentError) {
        self.file = file
        if FileManager.default.fileExists(atPath: file.path) {
            do {
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .iso8601
                contents = try decoder.decode(Contents.self, from: try Data(contentsOf: file))
            } catch {
                throw EnrollmentError(.storage, "the CA registry \(file.path) cannot be read: \(error)")
            }
        } else {
            contents = Contents()
        }
    }

    private func save(_ next: Contents) throws(EnrollmentError) {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            let data = try encoder.encode(next)
            let temporary = file.appendingPathExtension("tmp")
            try data.write(to: temporary)
            let handle = try FileHandle(forWritingTo: temporary)
            try handle.synchronize()
            try handle.close()
            // rename(2) replaces the old file atomically (FileManager.replaceItemAt fails on Linux when there is none).
            guard rename(temporary.path, file.path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            contents = next
        } catch {
            throw EnrollmentError(.storage, "the CA registry \(file.path) cannot be written: \(error)")
        }
    }

    package func identity(_ id: String) -> RegisteredIdentity? { contents.identities[id] }

    package func insert(_ identity: RegisteredIdentity) throws(EnrollmentError) {
        guard contents.identities[identity.id] == nil else { throw EnrollmentError(.conflict, "identity '\(identity.id)' is already registered") }
        var next = contents
        next.identities[identity.id] = identity
        try save(next)
    }

    package func consumeEnrollment(of id: String, secret: String) throws(EnrollmentError) -> RegisteredIdentity {
        guard var identity = contents.identities[id], identity.matches(secret: secret) else {
            throw EnrollmentError(.unauthorized, "wrong enrollment id or secret")
        }
        guard !identity.revoked else { throw EnrollmentError(.exhausted, "identity '\(id)' is revoked") }
        guard identity.maxEnrollments < 0 || identity.enrollments < identity.maxEnrollments else {
            throw EnrollmentError(.exhausted, "identity '\(id)' has used its \(identity.maxEnrollments) enrollment(s); reenroll with its certificate or register it anew")
        }
        identity.enrollments += 1
        var next = contents
        next.identities[id] = identity
        try save(next)
        return identity
    }

    package func addCertificate(_ certificate: IssuedCertificate) throws(EnrollmentError) {
        var next = contents
        next.certificates[certificate.serial] = certificate
        try save(next)
    }

    package func certificates(of id: String) -> [IssuedCertificate] {
        contents.certificates.values.filter { $0.id == id }.sorted { $0.serial < $1.serial }
    }

    package func certificate(serial: String) -> IssuedCertificate? { contents.certificates[serial] }

    package func revoke(serials: [String], identity: String?, at time: Date, reason: String) throws(EnrollmentError) -> [IssuedCertificate] {
        var next = contents
        var revoked: [IssuedCertificate] = []
        for serial in serials {
            guard var certificate = next.certificates[serial], certificate.revokedAt == nil else { continue }
            certificate.revokedAt = time
            certificate.reason = reason
            next.certificates[serial] = certificate
            revoked.append(certificate)
        }
        if let identity { next.identities[identity]?.revoked = true }
        try save(next)
        return revoked
    }

    package func revokedCertificates(notExpiredAt time: Date) -> [IssuedCertificate] {
        contents.certificates.values.filter { $0.revokedAt != nil && $0.notAfter > time }.sorted { $0.serial < $1.serial }
    }
}
