import Crypto
import Foundation
import PostgresNIO
import Testing

@testable import OffChainStore

/// What only the PostgreSQL backend has: its schema, migrations and row layout.
@Suite(.postgresServer, .timeLimit(.minutes(1)))
struct PostgresOffChainStoreTests {
    let custodian = RecordCustodian(privateKey: P256.KeyAgreement.PrivateKey())
    let clock = TestClock()

    @Test func migratesOnceAndRecordsTheSchemaVersion() async throws {
        try await PostgresHarness.with(clock: clock) { harness in
            // Opening again, twice at once, applies nothing more (advisory lock + version table).
            async let first = PostgresOffChainStore.open(client: harness.client, now: clock.read)
            async let second = PostgresOffChainStore.open(client: harness.client, now: clock.read)
            _ = try await (first, second)
            var versions: [Int32] = []
            for try await version in try await harness.client.query("SELECT version FROM medrex_offchain_schema ORDER BY version").decode(Int32.self) {
                versions.append(version)
            }
            #expect(versions == Array(1...Int32(PostgresOffChainSchema.migrations.count)))
        }
    }

    @Test func refusesASchemaFromANewerBuild() async throws {
        try await PostgresHarness.with(clock: clock) { harness in
            try await harness.client.query("INSERT INTO medrex_offchain_schema (version) VALUES (99)")
            let error = await #expect(throws: OffChainStoreError.self) {
                _ = try await PostgresOffChainStore.open(client: harness.client, now: clock.read)
            }
            #expect(error?.code == .storage)
            #expect(error?.reason.contains("version 99") == true)
        }
    }

    @Test func rowsCarryAlgorithmIDsAndStateButNoPlaintext() async throws {
        try await PostgresHarness.with(clock: clock) { harness in
            let plaintext = Data("blood pressure 120/80".utf8)
            try await harness.store.put(try custodian.seal(plaintext, recordID: "rec-1", version: 1))
            let rows = try await harness.client.query(
                """
                SELECT r.content_algorithm, k.wrap_algorithm, k.recipient_key_id, r.state, r.plaintext_digest, length(r.nonce)
                FROM phi_record_versions r JOIN phi_wrapped_keys k USING (record_id, version)
                """)
            var seen = 0
            for try await (content, wrap, recipient, state, digest, nonceLength) in rows.decode((String, String, String, String, Data, Int32).self) {
                seen += 1
                #expect(content == "AES-256-GCM")
                #expect(wrap == "HPKE-P256-SHA256-AES-256-GCM")
                #expect(recipient == custodian.currentKey.keyID)
                #expect(state == "pending")
                #expect(digest == Data(SHA256.hash(data: plaintext)))
                #expect(nonceLength == 12)
            }
            #expect(seen == 1)
        }
    }

    @Test func aRowWithAnUnknownAlgorithmIDIsRefused() async throws {
        try await PostgresHarness.with(clock: clock) { harness in
            try await harness.store.put(try custodian.seal(Data("x".utf8), recordID: "rec-1", version: 1))
            try await harness.client.query("UPDATE phi_wrapped_keys SET wrap_algorithm = 'ROT13'")
            let error = await #expect(throws: OffChainStoreError.self) { _ = try await harness.store.get(recordID: "rec-1", version: 1) }
            #expect(error?.code == .unsupportedAlgorithm)
        }
    }

    @Test func writesABatchOfManyVersionsInOneTransaction() async throws {
        try await PostgresHarness.with(clock: clock) { harness in
            let batch = try (0..<OffChainStoreLimits.batchRecordCountMax).map { index in
                try custodian.seal(Data("record \(index)".utf8), recordID: "rec-\(index % 100)", version: UInt32(index / 100))
            }
            try await harness.store.put(batch)
            #expect(try await harness.store.versions(of: "rec-7").map(\.version) == Array(0..<10))
            #expect(try await harness.store.latest(recordID: "rec-99")?.encrypted == batch.last)
            let tooMany = batch + [try custodian.seal(Data(), recordID: "rec-x", version: 0)]
            let error = await #expect(throws: OffChainStoreError.self) { try await harness.store.put(tooMany) }
            #expect(error?.code == .invalidArgument)
        }
    }
}
