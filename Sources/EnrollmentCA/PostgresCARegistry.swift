import Foundation
import Logging
import PostgresNIO

/// The CA registry in PostgreSQL (for CAs run by several processes, or backed up with the
/// organization's databases): identities as JSON records, issued certificates by serial. Each
/// operation is one statement or one transaction; an enrollment locks its identity's row.
package struct PostgresCARegistry: CARegistry {
    private let client: PostgresClient
    private let logger: Logger

    /// Creates the tables when absent, then returns the registry. `client` must be running.
    package static func open(client: PostgresClient, logger: Logger = Logger(label: "medrex.ca.postgres")) async throws(EnrollmentError) -> PostgresCARegistry {
        try await database("creating the CA registry tables") {
            for statement in [
                "CREATE TABLE IF NOT EXISTS ca_identities (id text PRIMARY KEY, record text NOT NULL)",
                """
                CREATE TABLE IF NOT EXISTS ca_certificates (serial text PRIMARY KEY, id text NOT NULL, pem text NOT NULL,
                not_after double precision NOT NULL, revoked_at double precision, reason text)
                """,
                "CREATE INDEX IF NOT EXISTS ca_certificates_by_id ON ca_certificates (id)",
            ] {
                _ = try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
        return PostgresCARegistry(client: client, logger: logger)
    }

    private init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    private static func database<T>(_ what: String, _ work: () async throws -> T) async throws(EnrollmentError) -> T {
        do {
            return try await work()
        } catch let error as EnrollmentError {
            throw error
        } catch {
            // A refusal made inside a transaction (which was rolled back) comes back wrapped.
            if let inner = (error as? PostgresTransactionError)?.closureError as? EnrollmentError { throw inner }
            throw EnrollmentError(.storage, "the CA registry failed \(what): \(String(reflecting: error).prefix(300))")
        }
    }

    private static func encode(_ identity: RegisteredIdentity) throws -> String {
        String(decoding: try JSONEncoder().encode(identity), as: UTF8.self)
    }

    private static func decode(_ text: String) throws -> RegisteredIdentity {
        try JSONDecoder().decode(RegisteredIdentity.self, from: Data(text.utf8))
    }

    package func identity(_ id: String) async throws(EnrollmentError) -> RegisteredIdentity? {
        try await Self.database("reading an identity") {
            let rows = try await client.query("SELECT record FROM ca_identities WHERE id = \(id)", logger: logger)
            for try await record in rows.decode(String.self) { return try Self.decode(record) }
            return nil
        }
    }

    package func insert(_ identity: RegisteredIdentity) async throws(EnrollmentError) {
        let inserted: Bool = try await Self.database("registering an identity") {
            let record = try Self.encode(identity)
            let rows = try await client.query(
                "INSERT INTO ca_identities (id, record) VALUES (\(identity.id), \(record)) ON CONFLICT (id) DO NOTHING RETURNING id", logger: logger)
            for try await _ in rows.decode(String.self) { return true }
            return false
        }
        guard inserted else { throw EnrollmentError(.conflict, "identity '\(identity.id)' is already registered") }
    }

    package func consumeEnrollment(of id: String, secret: String) async throws(EnrollmentError) -> RegisteredIdentity {
        try await Self.database("counting an enrollment") {
            try await client.withTransaction(logger: logger) { connection in
                var found: RegisteredIdentity?
                let rows = try await connection.query("SELECT record FROM ca_identities WHERE id = \(id) FOR UPDATE", logger: logger)
                for try await record in rows.decode(String.self) { found = try Self.decode(record) }
                guard var identity = found, identity.matches(secret: secret) else { throw EnrollmentError(.unauthorized, "wrong enrollment id or secret") }
                guard !identity.revoked else { throw EnrollmentError(.exhausted, "identity '\(id)' is revoked") }
                guard identity.maxEnrollments < 0 || identity.enrollments < identity.maxEnrollments else {
                    throw EnrollmentError(.exhausted, "identity '\(id)' has used its \(identity.maxEnrollments) enrollment(s); reenroll with its certificate or register it anew")
                }
                identity.enrollments += 1
                let record = try Self.encode(identity)
                _ = try await connection.query("UPDATE ca_identities SET record = \(record) WHERE id = \(id)", logger: logger)
                return identity
            }
        }
    }

    package func addCertificate(_ certificate: IssuedCertificate) async throws(EnrollmentError) {
        try await Self.database("recording a certificate") {
            _ = try await client.query(
                """
                INSERT INTO ca_certificates (serial, id, pem, not_after) VALUES
                (\(certificate.serial), \(certificate.id), \(certificate.pem), \(certificate.notAfter.timeIntervalSince1970))
                """, logger: logger)
        }
    }

    private func certificates(_ query: PostgresQuery, _ what: String) async throws(EnrollmentError) -> [IssuedCertificate] {
        try await Self.database(what) {
            var result: [IssuedCertificate] = []
            let rows = try await client.query(query, logger: logger)
            for try await (serial, id, pem, notAfter, revokedAt, reason) in rows.decode((String, String, String, Double, Double?, String?).self) {
                result.append(IssuedCertificate(
                    serial: serial, id: id, pem: pem, notAfter: Date(timeIntervalSince1970: notAfter), revokedAt: revokedAt.map(Date.init(timeIntervalSince1970:)),
                    reason: reason))
            }
            return result
        }
    }

    package func certificates(of id: String) async throws(EnrollmentError) -> [IssuedCertificate] {
        try await certificates("SELECT serial, id, pem, not_after, revoked_at, reason FROM ca_certificates WHERE id = \(id) ORDER BY serial", "reading certificates")
    }

    package func certificate(serial: String) async throws(EnrollmentError) -> IssuedCertificate? {
        try await certificates("SELECT serial, id, pem, not_after, revoked_at, reason FROM ca_certificates WHERE serial = \(serial)", "reading a certificate").first
    }

    package func revoke(serials: [String], identity: String?, at time: Date, reason: String) async throws(EnrollmentError) -> [IssuedCertificate] {
        try await Self.database("revoking") {
            try await client.withTransaction(logger: logger) { connection in
                var revoked: [IssuedCertificate] = []
                let seconds = time.timeIntervalSince1970
                let rows = try await connection.query(
                    """
                    UPDATE ca_certificates SET revoked_at = \(seconds), reason = \(reason)
                    WHERE serial = ANY(\(serials)) AND revoked_at IS NULL RETURNING serial, id, pem, not_after
                    """, logger: logger)
                for try await (serial, id, pem, notAfter) in rows.decode((String, String, String, Double).self) {
                    revoked.append(IssuedCertificate(serial: serial, id: id, pem: pem, notAfter: Date(timeIntervalSince1970: notAfter), revokedAt: time, reason: reason))
                }
                if let identity {
                    var found: RegisteredIdentity?
                    let records = try await connection.query("SELECT record FROM ca_identities WHERE id = \(identity) FOR UPDATE", logger: logger)
                    for try await record in records.decode(String.self) { found = try Self.decode(record) }
                    if var found {
                        found.revoked = true
                        let record = try Self.encode(found)
                        _ = try await connection.query("UPDATE ca_identities SET record = \(record) WHERE id = \(identity)", logger: logger)
                    }
                }
                return revoked.sorted { $0.serial < $1.serial }
            }
        }
    }

    package func revokedCertificates(notExpiredAt time: Date) async throws(EnrollmentError) -> [IssuedCertificate] {
        try await certificates(
            "SELECT serial, id, pem, not_after, revoked_at, reason FROM ca_certificates WHERE revoked_at IS NOT NULL AND not_after > \(time.timeIntervalSince1970) ORDER BY serial",
            "reading revoked certificates")
    }
}
