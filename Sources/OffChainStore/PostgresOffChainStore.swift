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

    package func wrapsToRotate(notUnder current: UInt32, after cursor: RecordVersionID?, limit: Int) async throws(OffChainStoreError) -> [StoredWrap] {
        let cursorID = cursor?.recordID ?? ""
        let cursorVersion = cursor.map { Int64($0.version) } ?? -1
        return try await Self.database("listing wrapped keys to rotate") {
            let rows = try await client.query(
                """
                SELECT record_id, version, position, recipient_key_id, encapsulated_key, wrapped_key, wrap_algorithm, key_version
                FROM phi_wrapped_keys
                WHERE key_version <> \(Int64(current)) AND (record_id, version) > (\(cursorID), \(cursorVersion))
                ORDER BY record_id, version, position
                LIMIT \(Int64(max(limit, 0)))
                """, logger: logger)
            var wraps: [StoredWrap] = []
            for try await (recordID, version, position, recipient, encapsulated, wrapped, algorithm, keyVersion) in rows.decode(
                (String, Int64, Int16, String, Data, Data, String, Int64).self)
            {
                guard let version = UInt32(exactly: version), let keyVersion = UInt32(exactly: keyVersion),
                    let algorithm = KeyWrapAlgorithm(rawValue: algorithm)
                else {
                    throw OffChainStoreError(.corruptRow, "a wrapped key of record '\(recordID)' has a version, key version or algorithm out of range")
                }
                wraps.append(
                    StoredWrap(
                        id: RecordVersionID(recordID: recordID, version: version), position: Int(position),
                        wrapped: WrappedKey(
                            recipientKeyID: recipient, encapsulatedKey: encapsulated, ciphertext: wrapped, algorithm: algorithm, keyVersion: keyVersion)))
            }
            return wraps
        }
    }

    package func replaceWraps(_ replacements: [WrapReplacement]) async throws(OffChainStoreError) -> Int {
        guard !replacements.isEmpty else { return 0 }
        let recordIDs = replacements.map(\.old.id.recordID)
        let versions = replacements.map { Int64($0.old.id.version) }
        let positions = replacements.map { Int16(clamping: $0.old.position) }
        let oldCiphertexts = replacements.map { ByteBuffer(bytes: $0.old.wrapped.ciphertext) }
        let oldKeyVersions = replacements.map { Int64($0.old.wrapped.keyVersion) }
        let recipients = replacements.map(\.new.recipientKeyID)
        let encapsulated = replacements.map { ByteBuffer(bytes: $0.new.encapsulatedKey) }
        let ciphertexts = replacements.map { ByteBuffer(bytes: $0.new.ciphertext) }
        let algorithms = replacements.map(\.new.algorithm.rawValue)
        let keyVersions = replacements.map { Int64($0.new.keyVersion) }
        return try await Self.database("replacing wrapped keys") {
            // One statement, hence atomic; a row changed since it was read (its old wrapped key
            // and key version differ) or deleted is left alone.
            let rows = try await client.query(
                """
                UPDATE phi_wrapped_keys k SET recipient_key_id = n.recipient, encapsulated_key = n.encapsulated, wrapped_key = n.wrapped,
                    wrap_algorithm = n.algorithm, key_version = n.key_version
                FROM unnest(\(recordIDs)::text[], \(versions)::bigint[], \(positions)::smallint[], \(oldCiphertexts)::bytea[],
                    \(oldKeyVersions)::bigint[], \(recipients)::text[], \(encapsulated)::bytea[], \(ciphertexts)::bytea[],
                    \(algorithms)::text[], \(keyVersions)::bigint[])
                    AS n (record_id, version, position, old_wrapped, old_key_version, recipient, encapsulated, wrapped, algorithm, key_version)
                WHERE k.record_id = n.record_id AND k.version = n.version AND k.position = n.position
                    AND k.wrapped_key = n.old_wrapped AND k.key_version = n.old_key_version
                RETURNING k.version
                """, logger: logger)
            var count = 0
            for try await _ in rows { count += 1 }
            return count
        }
    }

    package func wrapCounts() async throws(OffChainStoreError) -> [UInt32: Int] {
        try await Self.database("counting wrapped keys by key version") {
            let rows = try await client.query("SELECT key_version, count(*) FROM phi_wrapped_keys GROUP BY key_version", logger: logger)
            var counts: [UInt32: Int] = [:]
            for try await (version, count) in rows.decode((Int64, Int64).self) {
                counts[UInt32(clamping: version)] = Int(count)
            }
            return counts
        }
    }

    package func erase(_ ids: [RecordVersionID]) async throws(OffChainStoreError) -> Int {
        guard !ids.isEmpty else { return 0 }
        for id in ids { try OffChainStoreLimits.check(recordID: id.recordID) }
        let recordIDs = ids.map(\.recordID)
        let versions = ids.map { Int64($0.version) }
        return try await Self.database("erasing record versions") {
            // Wrapped keys go with their version (ON DELETE CASCADE), in the same statement.
            let rows = try await client.query(
                """
                DELETE FROM phi_record_versions r
                USING unnest(\(recordIDs)::text[], \(versions)::bigint[]) AS e (record_id, version)
                WHERE r.record_id = e.record_id AND r.version = e.version
                RETURNING r.version
                """, logger: logger)
            var count = 0
            for try await _ in rows { count += 1 }
            return count
        }
    }

    package func acquireLease(_ name: String, holder: String, for duration: TimeInterval) async throws(OffChainStoreError) -> Bool {
        let expires = now().addingTimeInterval(duration)
        let current = now()
        return try await Self.database("taking lease '\(name)'") {
            let rows = try await client.query(
                """
                INSERT INTO phi_leases (name, holder, expires_at) VALUES (\(name), \(holder), \(expires))
                ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                WHERE phi_leases.holder = excluded.holder OR phi_leases.expires_at < \(current)
                RETURNING holder
                """, logger: logger)
            var taken = false
            for try await _ in rows { taken = true }
            return taken
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
