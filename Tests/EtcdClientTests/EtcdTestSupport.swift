import EtcdClient
import Foundation
import LedgerCore
import RPCTransport
import TestSupport

/// The UTF-8 bytes of `text`, for keys and values.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Runs `body` with a fresh etcd cluster of `members` members and a client of all of them, and stops
/// both afterwards, whether `body` succeeds or throws.
func withEtcd<Result>(
    members: Int = 1,
    callTimeout: Duration = .seconds(5),
    _ body: (EtcdCluster, EtcdClient) async throws -> Result
) async throws -> Result {
    let cluster = try await EtcdCluster.start(members: members)
    defer { cluster.stop() }
    let client = try EtcdClient(endpoints: cluster.endpoints, tls: cluster.clientTLS, callTimeout: callTimeout)
    do {
        let result = try await body(cluster, client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

/// Runs `body` against each store held to etcd's contract: a fresh real cluster (through
/// `EtcdClient`), then an `InMemoryEtcd`. The shared tests are the in-memory store's contract.
func withEachStore(_ body: (any EtcdKeyValueStore) async throws -> Void) async throws {
    try await withEtcd { _, client in
        try await body(client)
    }
    try await body(InMemoryEtcd(clock: SystemClock()))
}

/// TLS material of a CA of its own, for clients of no cluster (the files stay in the temporary directory).
func unusedTLS() throws -> MutualTLS {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-etcd-unused-tls-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return try EtcdCluster.standaloneTLS(in: directory, name: "client")
}

/// Polls `condition` every 100 ms until it holds; false if it still does not after `timeout`.
func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}

/// The result of `body`, or nil when it has not finished within `timeout` (it is then cancelled).
func within<Result: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> Result) async throws -> Result? {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}

/// Collects watch batches until `count` events have arrived; throws `WatchTimeout` if they have not within `timeout`.
func collect(
    _ count: Int,
    from stream: AsyncThrowingStream<[WatchEvent], any Error>,
    within timeout: Duration
) async throws -> [WatchEvent] {
    try await collect(from: stream, within: timeout, until: "\(count) events") { $0.count >= count }
}

/// Collects watch batches until the events so far satisfy `done`; throws `WatchTimeout` if they do
/// not within `timeout`. `goal` says what was waited for.
func collect(
    from stream: AsyncThrowingStream<[WatchEvent], any Error>,
    within timeout: Duration,
    until goal: String,
    _ done: @escaping @Sendable ([WatchEvent]) -> Bool
) async throws -> [WatchEvent] {
    let events = try await within(timeout) {
        var events: [WatchEvent] = []
        for try await batch in stream {
            events += batch
            if done(events) { break }
        }
        return events
    }
    guard let events else { throw WatchTimeout(goal: goal, timeout: timeout) }
    return events
}

struct WatchTimeout: Error, CustomStringConvertible {
    let goal: String
    let timeout: Duration
    var description: String { "the watch did not deliver \(goal) within \(timeout)" }
}
