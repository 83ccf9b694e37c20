import Foundation
import Logging
import PostgresNIO

/// An `OffChainStore` in PostgreSQL, over a postgres-nio `PostgresClient` connection pool.
///
/// Tables (`PostgresOffChainSchema`): `phi_record_versions` (record id, version, ciphertext, nonce,
/// content algorithm id, plaintext digest, created time, anchor state) and `phi_wrapped_keys`
/// (the wrapped data keys of each version, with their recipient key ids and algorithm ids). Every
/// statement is parameterized, the hot ones prepared (`PostgresStatements`); a `put` of many
/// versions is one `INSERT … SELECT FROM unnest(…)` statement for both tables, however many
/// versions it holds, and so atomic.
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
        let batch = PostgresPutBatch(versions, createdAt: now())
        do {
            for try await _ in try await client.execute(PostgresStatements.PutVersions(batch: batch), logger: logger) {}
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == Self.uniqueViolation {
            throw try await alreadyStored(among: batch)
        } catch {
            throw Self.storeError(error, "storing \(versions.count) record versions")
        }
    }

    /// SQLSTATE of a unique violation: a (record id, version) that exists already.
    private static let uniqueViolation = "23505"

    /// The `.versionExists` error naming which versions of a refused batch are stored.
    private func alreadyStored(among batch: PostgresPutBatch) async throws(OffChainStoreError) -> OffChainStoreError {
        try await Self.database("finding which versions exist") {
            let rows = try await client.query(
                """
                SELECT record_id, version FROM phi_record_versions
                WHERE (record_id, version) IN (SELECT * FROM unnest(\(batch.recordIDs)::text[], \(batch.versions)::bigint[]))
                """, logger: logger)
            var existing: [RecordVersionID] = []
            for try await (recordID, version) in rows.decode((String, Int64).self) {
                existing.append(RecordVersionID(recordID: recordID, version: UInt32(clamping: version)))
            }
            return existing.isEmpty
                ? OffChainStoreError(.versionExists, "a version of this batch existed when the batch was written; versions are immutable")
                : RecordVersionID.alreadyStored(existing)
        }
    }

    package func get(recordID: String, version: UInt32) async throws(OffChainStoreError) -> StoredRecordVersion? {
        try OffChainStoreLimits.check(recordID: recordID)
        return try await Self.database("reading record '\(recordID)' version \(version)") {
            try await readOne(client.execute(PostgresStatements.GetVersion(recordID: recordID, version: Int64(version)), logger: logger))
        }
    }

    package func latest(recordID: String) async throws(OffChainStoreError) -> StoredRecordVersion? {
        try OffChainStoreLimits.check(recordID: recordID)
        return try await Self.database("reading the latest version of record '\(recordID)'") {
            try await readOne(client.execute(PostgresStatements.GetLatestVersion(recordID: recordID), logger: logger))
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
                summaries.append(RecordVersionSummary(version: UInt32(clamping: version), plaintextDigest: digest, createdAt: createdAt, state: state))
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
                DELETE FROM phi_record_versions
                WHERE (record_id, version) IN (
                        SELECT record_id, version FROM phi_record_versions
                        WHERE state = 'pending' AND created_at < \(cutoff)
                        LIMIT \(OffChainStoreLimits.pendingDeletionCountMax))
                    -- Checked again on the row it deletes, should a concurrent markAnchored have changed it.
                    AND state = 'pending' AND created_at < \(cutoff)
                RETURNING version
                """, logger: logger)
            var count = 0
            for try await _ in rows { count += 1 }
            return count
        }
    }

    package func pendingVersions(createdBefore cutoff: Date) async throws(OffChainStoreError) -> [RecordVersionID] {
        try await Self.database("listing pending record versions") {
            let rows = try await client.query(
                """
                SELECT record_id, version FROM phi_record_versions
                WHERE state = 'pending' AND created_at < \(cutoff)
                ORDER BY created_at, record_id, version
                LIMIT \(OffChainStoreLimits.pendingDeletionCountMax)
                """, logger: logger)
            var ids: [RecordVersionID] = []
            for try await (recordID, version) in rows.decode((String, Int64).self) {
                ids.append(RecordVersionID(recordID: recordID, version: UInt32(clamping: version)))
            }
            return ids
        }
    }

    /// Assembles one version from its rows (one per wrapped key).
    private func readOne(_ rows: some AsyncSequence<PostgresStoredRow.Cells, any Error>) async throws -> StoredRecordVersion? {
        var row: PostgresStoredRow?
        for try await cells in rows {
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
