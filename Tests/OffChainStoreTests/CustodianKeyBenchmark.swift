import Crypto
import Foundation
import Testing
import TestSupport

@testable import OffChainStore

/// The custodian key's cost, file key (HPKE, P-256) against a key in a PKCS#11 token (SoftHSM,
/// AES-GCM inside the token): sealing and opening records, and re-wrapping 100,000 stored data
/// keys to a new version in PostgreSQL (the store-side work of a rotation, without its on-chain
/// batch entries). Not a unit test: it runs only with `MEDREX_OFFCHAIN_BENCH=1`
/// (`MEDREX_OFFCHAIN_BENCH=1 swift test --filter CustodianKeyBenchmark`), asserts nothing about
/// speed and prints what it measured.
@Suite(.postgresServer, .enabled(if: ProcessInfo.processInfo.environment["MEDREX_OFFCHAIN_BENCH"] == "1"))
struct CustodianKeyBenchmark {
    static let records = 4_000
    static let rewrapped = 100_000
    static let batchSize = 1_000
    static let tasks = 8
    let plaintext = Data(repeating: 0x41, count: 1_024)

    static func hsmKeyring() throws -> CustodianKeyring {
        try SoftHSM.prepare(tokens: SoftHSM.testTokens)
        let token = try PKCS11Token(library: SoftHSM.library, tokenLabel: "medrex-keys-b", pin: SoftHSM.userPIN)
        return try CustodianKeyring(store: PKCS11CustodianKeys(token: token, label: "bench-\(UUID().uuidString.prefix(8).lowercased())"))
    }

    @Test(.timeLimit(.minutes(10)))
    func sealAndOpenWithEachKind() async throws {
        let digest = Data(SHA256.hash(data: plaintext))
        for (name, keyring) in [("file key (HPKE P-256)", try CustodianKeyring(store: InMemoryCustodianKeys([P256.KeyAgreement.PrivateKey()]))),
                                ("PKCS#11 key (SoftHSM AES-GCM)", try Self.hsmKeyring())] {
            let custodian = RecordCustodian(keyring: keyring)
            for tasks in [1, Self.tasks] {
                let start = ContinuousClock.now
                let sealed = try await Self.concurrently(tasks, Self.records) { index in try custodian.seal(plaintext, recordID: "r-\(index)", version: 1) }
                report("\(name): seal, \(tasks) task(s)", Self.records, since: start)
                let openStart = ContinuousClock.now
                _ = try await Self.concurrently(tasks, Self.records) { index in try custodian.open(sealed[index], anchoredDigest: digest) }
                report("\(name): open, \(tasks) task(s)", Self.records, since: openStart)
            }
        }
    }

    @Test(.timeLimit(.minutes(20)))
    func rewrapOneHundredThousandDataKeys() async throws {
        let keyring = try Self.hsmKeyring()
        let custodian = RecordCustodian(keyring: keyring)
        try await PostgresHarness.with(clock: TestClock()) { harness in
            let store = harness.store
            let fill = ContinuousClock.now
            for start in stride(from: 0, to: Self.rewrapped, by: Self.batchSize) {
                let batch = try await Self.concurrently(2, Self.batchSize) { index in
                    try custodian.seal(plaintext, recordID: "rw-\(start + index)", version: 1)
                }
                try await store.put(batch)
            }
            report("sealed and stored under version 1", Self.rewrapped, since: fill)
            _ = try keyring.rotate()
            let start = ContinuousClock.now
            var cursor: RecordVersionID?
            var total = 0
            while true {
                let wraps = try await store.wrapsToRotate(notUnder: 2, after: cursor, limit: Self.batchSize)
                guard let last = wraps.last else { break }
                cursor = last.id
                let replacements = try await Self.concurrently(2, wraps.count) { index in
                    WrapReplacement(
                        old: wraps[index],
                        new: try custodian.rewrapToCurrent(wraps[index].wrapped, recordID: wraps[index].id.recordID, version: wraps[index].id.version))
                }
                total += try await store.replaceWraps(replacements)
            }
            report("re-wrapped to version 2 (batches of \(Self.batchSize), 2 tasks)", total, since: start)
            #expect(try await store.wrapCounts() == [2: Self.rewrapped])
        }
    }

    /// `count` results of `body(index)`, computed by `tasks` tasks, in index order.
    static func concurrently<T: Sendable>(_ tasks: Int, _ count: Int, _ body: @escaping @Sendable (Int) throws -> T) async throws -> [T] {
        try await withThrowingTaskGroup(of: [(Int, T)].self) { group in
            for task in 0..<tasks {
                group.addTask { try stride(from: task, to: count, by: tasks).map { ($0, try body($0)) } }
            }
            var results: [(Int, T)] = []
            for try await part in group { results += part }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    private func report(_ what: String, _ count: Int, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("custodian-key-bench: \(what): \(count) in \(String(format: "%.2f", seconds)) s = \(Int(Double(count) / seconds))/s")
    }
}
