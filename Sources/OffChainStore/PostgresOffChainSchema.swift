import Logging
import PostgresNIO

/// The PostgreSQL schema of `PostgresOffChainStore`, created or migrated when the store opens.
///
/// `medrex_offchain_schema` records each applied migration. Migrations run in one transaction
/// under an advisory lock, so several peers starting on one database migrate once. A database
/// migrated by a newer build (a version above `migrations.count`) is refused.
enum PostgresOffChainSchema {
    /// Migration n (1-based) is `migrations[n - 1]`: its statements, run in order.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE phi_record_versions (
                record_id text NOT NULL,
                version bigint NOT NULL CHECK (version BETWEEN 0 AND 4294967295),
                ciphertext bytea NOT NULL,
                nonce bytea NOT NULL,
                content_algorithm text NOT NULL,
                plaintext_digest bytea NOT NULL,
                created_at timestamptz NOT NULL,
                state text NOT NULL CHECK (state IN ('pending', 'anchored')),
                PRIMARY KEY (record_id, version)
            )
            """,
            "CREATE INDEX phi_record_versions_pending_by_age ON phi_record_versions (created_at) WHERE state = 'pending'",
            """
            CREATE TABLE phi_wrapped_keys (
                record_id text NOT NULL,
                version bigint NOT NULL,
                position smallint NOT NULL,
                recipient_key_id text NOT NULL,
                encapsulated_key bytea NOT NULL,
                wrapped_key bytea NOT NULL,
                wrap_algorithm text NOT NULL,
                PRIMARY KEY (record_id, version, position),
                FOREIGN KEY (record_id, version) REFERENCES phi_record_versions (record_id, version) ON DELETE CASCADE
            )
            """,
        ],
        // 2: custodian key versions. Rows written before are under version 1 (the only key then).
        [
            "ALTER TABLE phi_wrapped_keys ADD COLUMN key_version bigint NOT NULL DEFAULT 1 CHECK (key_version BETWEEN 0 AND 4294967295)",
            "CREATE INDEX phi_wrapped_keys_by_key_version ON phi_wrapped_keys (key_version)",
            // Leases of background jobs (key re-wrapping) among the peers sharing the database.
            "CREATE TABLE phi_leases (name text PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL)",
        ],
    ]

    /// Any constant unique to this schema: the advisory lock key that serializes migrations.
    static let migrationLockKey: Int64 = 0x6d65_6472_6578_0701

    /// Creates the schema-version table if missing and applies the migrations not yet applied.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLockKey))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS medrex_offchain_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var applied = 0
            for try await (version) in try await connection.query("SELECT coalesce(max(version), 0) FROM medrex_offchain_schema", logger: logger)
                .decode(Int.self)
            {
                applied = version
            }
            guard applied >= 0 else { throw OffChainStoreError(.storage, "the off-chain schema table holds version \(applied), which no build wrote") }
            guard applied <= migrations.count else {
                throw OffChainStoreError(
                    .storage, "the off-chain schema is at version \(applied), newer than this build's \(migrations.count); upgrade Medrex")
            }
            for version in (applied + 1)..<(migrations.count + 1) {
                for statement in migrations[version - 1] {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO medrex_offchain_schema (version) VALUES (\(version))", logger: logger)
                logger.info("applied off-chain schema migration", metadata: ["version": "\(version)"])
            }
        }
    }
}
