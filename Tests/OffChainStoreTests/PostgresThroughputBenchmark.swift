import Crypto
import Foundation
import Testing

@testable import OffChainStore

/// Put and get throughput of the PostgreSQL backend against a throwaway server. Not a unit test:
/// it runs only with `MEDREX_OFFCHAIN_BENCH=1` (`MEDREX_OFFCHAIN_BENCH=1 swift test --filter
/// PostgresThroughputBenchmark`), asserts nothing about speed and prints what it measured.
@Suite(.postgresServer, .enabled(if: ProcessInfo.processInfo.environment["MEDREX_OFFCHAIN_BENCH"] == "1"))
struct PostgresThroughputBenchmark {
    static let recordBytes = 1_024
    static let batchedRecords = 20_000
    static let batchSize = 500
    static let singleRecords = 2_000
    static let concurrentTasks = 8

    @Test(.timeLimit(.minutes(5)))
    func measurePutAndGet() async throws {
        let custodian = RecordCustodian(privateKey: P256.KeyAgreement.PrivateKey())
        let clock = TestClock()
        let plaintext = Data(repeating: 0x41, count: Self.recordBytes)
        try await PostgresHarness.with(clock: clock) { harness in
            let store = harness.store
            let sealStart = ContinuousClock.now
            let batched = try (0..<Self.batchedRecords).map { try custodian.seal(plaintext, recordID: "batch-\($0)", version: 1) }
            report("seal (AES-GCM + HPKE wrap), in process", Self.batchedRecords, since: sealStart)

            let batchStart = ContinuousClock.now
            for start in stride(from: 0, to: batched.count, by: Self.batchSize) {
                try await store.put(Array(batched[start..<min(start + Self.batchSize, batched.count)]))
            }
            report("put, batches of \(Self.batchSize)", Self.batchedRecords, since: batchStart)

            let singles = try (0..<Self.singleRecords).map { try custodian.seal(plaintext, recordID: "single-\($0)", version: 1) }
            let singleStart = ContinuousClock.now
            for version in singles { try await store.put(version) }
            report("put, one version per transaction, 1 task", Self.singleRecords, since: singleStart)

            let concurrentSingles = try (0..<Self.singleRecords).map { try custodian.seal(plaintext, recordID: "concurrent-\($0)", version: 1) }
            let concurrentStart = ContinuousClock.now
            try await forEachConcurrently(concurrentSingles) { try await store.put($0) }
            report("put, one version per transaction, \(Self.concurrentTasks) tasks", Self.singleRecords, since: concurrentStart)

            let ids = (0..<Self.singleRecords).map { "batch-\($0 * (Self.batchedRecords / Self.singleRecords))" }
            let getStart = ContinuousClock.now
            for id in ids { _ = try await store.get(recordID: id, version: 1) }
            report("get, 1 task", ids.count, since: getStart)

            let concurrentGetStart = ContinuousClock.now
            try await forEachConcurrently(ids) { _ = try await store.get(recordID: $0, version: 1) }
            report("get, \(Self.concurrentTasks) tasks", ids.count, since: concurrentGetStart)
        }
    }

    private func forEachConcurrently<Element: Sendable>(_ elements: [Element], _ body: @escaping @Sendable (Element) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<Self.concurrentTasks {
                let share = stride(from: task, to: elements.count, by: Self.concurrentTasks).map { elements[$0] }
                group.addTask { for element in share { try await body(element) } }
            }
            try await group.waitForAll()
        }
    }

    private func report(_ what: String, _ count: Int, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("offchain-bench postgres: \(what): \(count) records in \(String(format: "%.2f", seconds)) s = \(Int(Double(count) / seconds)) records/s (\(Self.recordBytes)-byte plaintext)")
    }
}
