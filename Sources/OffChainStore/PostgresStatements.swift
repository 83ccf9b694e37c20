import Foundation
import PostgresNIO

/// The hot statements of `PostgresOffChainStore`, prepared once per pooled connection
/// (postgres-nio's `PostgresPreparedStatement`): the server parses and plans each once.
enum PostgresStatements {
    /// Inserts a batch of versions and their wrapped keys in one statement, so it is atomic without
    /// a transaction block and takes one round trip. A version that exists already fails the whole
    /// statement with SQLSTATE 23505 (unique violation) and nothing is written.
    struct PutVersions: PostgresPreparedStatement {
        static let name = "medrex_offchain_put_v2"
        static let sql = """
            WITH new_versions AS (
                INSERT INTO phi_record_versions
                    (record_id, version, ciphertext, nonce, content_algorithm, plaintext_digest, created_at, state)
                SELECT record_id, version, ciphertext, nonce, content_algorithm, plaintext_digest, $7, 'pending'
                FROM unnest($1::text[], $2::bigint[], $3::bytea[], $4::bytea[], $5::text[], $6::bytea[])
                    AS new (record_id, version, ciphertext, nonce, content_algorithm, plaintext_digest)
                RETURNING record_id, version
            )
            INSERT INTO phi_wrapped_keys
                (record_id, version, position, recipient_key_id, encapsulated_key, wrapped_key, wrap_algorithm, key_version)
            SELECT * FROM unnest($8::text[], $9::bigint[], $10::smallint[], $11::text[], $12::bytea[], $13::bytea[], $14::text[], $15::bigint[])
            """
        typealias Row = Void

        let batch: PostgresPutBatch

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 15)
            bindings.append(batch.recordIDs)
            bindings.append(batch.versions)
            bindings.append(batch.ciphertexts)
            bindings.append(batch.nonces)
            bindings.append(batch.contentAlgorithms)
            bindings.append(batch.plaintextDigests)
            bindings.append(batch.createdAt)
            bindings.append(batch.keyRecordIDs)
            bindings.append(batch.keyVersions)
            bindings.append(batch.keyPositions)
            bindings.append(batch.keyRecipients)
            bindings.append(batch.keyEncapsulated)
            bindings.append(batch.keyCiphertexts)
            bindings.append(batch.keyAlgorithms)
            bindings.append(batch.keyCustodianVersions)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws {}
    }

    /// One version with its wrapped keys (one row per key, in position order).
    struct GetVersion: PostgresPreparedStatement {
        static let name = "medrex_offchain_get_v2"
        static let sql = """
            SELECT \(PostgresStoredRow.columns)
            FROM phi_record_versions r JOIN phi_wrapped_keys k USING (record_id, version)
            WHERE r.record_id = $1 AND r.version = $2
            ORDER BY k.position
            """
        typealias Row = PostgresStoredRow.Cells

        let recordID: String
        let version: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(recordID)
            bindings.append(version)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// The highest version of a record with its wrapped keys.
    struct GetLatestVersion: PostgresPreparedStatement {
        static let name = "medrex_offchain_latest_v2"
        static let sql = """
            SELECT \(PostgresStoredRow.columns)
            FROM phi_record_versions r JOIN phi_wrapped_keys k USING (record_id, version)
            WHERE r.record_id = $1 AND r.version = (SELECT max(version) FROM phi_record_versions WHERE record_id = $1)
            ORDER BY k.position
            """
        typealias Row = PostgresStoredRow.Cells

        let recordID: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(recordID)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }
}
