import Foundation
import Logging
import PostgresNIO

/// An `OffChainStore` in PostgreSQL, over a postgres-nio `PostgresClient` connection pool.
///
/// Tables (`PostgresOffChainSchema`): `phi_record_versions` (record id, version, ciphertext, nonce,
/// content algorithm id, plaintext digest, created time, anchor state) and `phi_wrapped_keys`
/// (the wrapped data keys of each version, with their recipient key ids and algorithm ids). Every
/// statement is parameterized; a `put` of many versions is one transaction of two `INSERT … SELECT
/// FROM unnest(…)` statements, however many versions it holds.
///
/// The caller runs the client (`client.run()`, or as a service of its `ServiceGroup`) for as long
/// as the store is used.
package struct PostgresOffChainStore: OffChainStore {
    private let client: PostgresClient
    private let logger: Logger
    private let now: @Sendable () -> Date

    /// Creates or migrates the schema, then returns the store.
    /// - Parameter now: the clock stamped on new versions and compared with `deletePending` cutoffs.
    package static func open(
        client: PostgresClient, logger: Logger = Logger(label: "medrex.offchain.postgres"), now: @escaping @Sendable () -> Date = Date.init
    ) async throws(OffChainStoreError) -> PostgresOffChainStore {
        try await database("migrating the off-chain schema") { try await PostgresOffChainSchema.migrate(client, logger: logger) }
        return PostgresOffChainStore(client: client, logger: logger, now: now)
    }

    private init(client: PostgresClient, logger: Logger, now: @escaping @Sendable () -> Date) {
        self.client = client
        self.logger = logger
        self.now = now
    }

    package func put(_ versions: [EncryptedRecordVersion]) async throws(OffChainStoreError) {
        try PutBatchCheck.check(versions)
        let rows = PostgresPutBatch(versions, createdAt: now())
        try await Self.database("storing \(versions.count) record versions") {
            try await client.withTransaction(logger: logger) { connection in
                var inserted = Set<RecordVersionID>()
                let insertedRows = try await connection.query(
                    """
                    INSERT INTO phi_record_versions
                        (record_id, version, ciphertext, nonce, content_algorithm, plaintext_digest, created_at, state)
                    SELECT record_id, version, ciphertext, nonce, content_algorithm, plaintext_digest, \(rows.createdAt), 'pending'
                    FROM unnest(\(rows.recordIDs)::text[], \(rows.versions)::bigint[], \(rows.ciphertexts)::bytea[],
                                \(rows.nonces)::bytea[], \(rows.contentAlgorithms)::text[], \(rows.plaintextDigests)::bytea[])
                        AS new (record_id, version, ciphertext, nonce, content_algorithm, plaintext_digest)
                    ON CONFLICT (record_id, version) DO NOTHING
                    RETURNING record_id, version
                    """, logger: logger)
                for try await (recordID, version) in insertedRows.decode((String, Int64).self) {
                    inserted.insert(RecordVersionID(recordID: recordID, version: UInt32(version)))
                }
                guard inserted.count == versions.count else {
                    // Throwing rolls the transaction back: nothing of this batch is written.
                    throw RecordVersionID.alreadyStored(rows.ids.filter { !inserted.contains($0) })
                }
                try await connection.query(
                    """
                    INSERT INTO phi_wrapped_keys
                        (record_id, version, position, recipient_key_id, encapsulated_key, wrapped_key, wrap_algorithm)
                    SELECT * FROM unnest(\(rows.keyRecordIDs)::text[], \(rows.keyVersions)::bigint[], \(rows.keyPositions)::smallint[],
                                         \(rows.keyRecipients)::text[], \(rows.keyEncapsulated)::bytea[], \(rows.keyCiphertexts)::bytea[],
                                         \(rows.keyAlgorithms)::text[])
                    """, logger: logger)
            }
        }
    }

    package func get(recordID: String, version: UInt32) async throws(OffChainStoreError) -> StoredRecordVersion? {
        try OffChainStoreLimits.check(recordID: recordID)
        return try await Self.database("reading record '\(recordID)' version \(version)") {
            try await readOne(
                """
                SELECT \(unescaped: PostgresStoredRow.columns) FROM phi_record_versions r JOIN phi_wrapped_keys k USING (record_id, version)
                WHERE r.record_id = \(recordID) AND r.version = \(Int64(version))
                ORDER BY k.position
                """)
        }
    }

    package func latest(recordID: String) async throws(OffChainStoreError) -> StoredRecordVersion? {
        try OffChainStoreLimits.check(recordID: recordID)
        return try await Self.database("reading the latest version of record '\(recordID)'") {
            try await readOne(
                """
                SELECT \(unescaped: PostgresStoredRow.columns) FROM phi_record_versions r JOIN phi_wrapped_keys k USING (record_id, version)
                WHERE r.record_id = \(recordID)
                  AND r.version = (SELECT max(version) FROM phi_record_versions WHERE record_id = \(recordID))
                ORDER BY k.position
                """)
        }
    }

    package func versions(of recordID: String) async throws(OffChainStoreError) -> [RecordVersionSummary] {
        try OffChainStoreLimits.check(recordID: recordID)
        return try await Self.database("listing the versions of record '\(recordID)'") {
            let rows = try await client.query(
                """
                SELECT version, plaintext_digest, created_at, state FROM phi_record_versions
                WHERE record_id = \(recordID) ORDER BY version
                """, logger: logger)
            var summaries: [RecordVersionSummary] = []
            for try await (version, digest, createdAt, state) in rows.decode((Int64, Data, Date, String).self) {
                guard let state = AnchorState(rawValue: state) else {
                    throw OffChainStoreError(.corruptRow, "record '\(recordID)' version \(version) has an unknown state")
                }
                summaries.append(RecordVersionSummary(version: UInt32(version), plaintextDigest: digest, createdAt: createdAt, state: state))
            }
            return summaries
        }
    }

    package func markAnchored(recordID: String, version: UInt32) async throws(OffChainStoreError) {
        try OffChainStoreLimits.check(recordID: recordID)
        let found = try await Self.database("anchoring record '\(recordID)' version \(version)") {
            let rows = try await client.query(
                """
                UPDATE phi_record_versions SET state = 'anchored'
                WHERE record_id = \(recordID) AND version = \(Int64(version))
                RETURNING version
                """, logger: logger)
            var count = 0
            for try await _ in rows { count += 1 }
            return count > 0
        }
        guard found else { throw OffChainStoreError(.notFound, "record '\(recordID)' version \(version) is not stored") }
    }

    package func deletePending(createdBefore cutoff: Date) async throws(OffChainStoreError) -> Int {
        try await Self.database("deleting pending record versions") {
            let rows = try await client.query(
                """
                DELETE FROM phi_record_versions WHERE (record_id, version) IN (
                    SELECT record_id, version FROM phi_record_versions
                    WHERE state = 'pending' AND created_at < \(cutoff)
                    LIMIT \(OffChainStoreLimits.pendingDeletionCountMax))
                RETURNING version
                """, logger: logger)
            var count = 0
            for try await _ in rows { count += 1 }
            return count
        }
    }

    /// Runs a query returning one version's rows (one per wrapped key) and assembles the version.
    private func readOne(_ query: PostgresQuery) async throws -> StoredRecordVersion? {
        var row: PostgresStoredRow?
        for try await cells in try await client.query(query, logger: logger).decode(PostgresStoredRow.Cells.self) {
            if row == nil { row = PostgresStoredRow(cells) }
            row?.appendKey(cells)
        }
        return try row?.storedVersion()
    }

    /// Runs database work; `OffChainStoreError`s pass through, anything else becomes `.storage`
    /// naming what was being done and, for server errors, the SQLSTATE and message (which name
    /// tables and constraints, never bound values).
    private static func database<T>(_ action: String, _ body: () async throws -> T) async throws(OffChainStoreError) -> T {
        do {
            return try await body()
        } catch {
            throw storeError(error, action)
        }
    }

    /// A transaction reports what failed inside it (the closure, BEGIN, COMMIT) in a
    /// `PostgresTransactionError`; the first failure is the one to report.
    private static func storeError(_ error: any Error, _ action: String) -> OffChainStoreError {
        switch error {
        case let error as OffChainStoreError:
            return error
        case let error as PostgresTransactionError:
            guard let cause = error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError else {
                return OffChainStoreError(.storage, "PostgreSQL failed \(action): transaction failed")
            }
            return storeError(cause, action)
        case let error as PSQLError:
            let state = error.serverInfo?[.sqlState] ?? "none"
            let message = error.serverInfo?[.message] ?? "\(error.code)"
            return OffChainStoreError(.storage, "PostgreSQL failed \(action): SQLSTATE \(state): \(message)")
        default:
            return OffChainStoreError(.storage, "PostgreSQL failed \(action): \(type(of: error))")
        }
    }
}
