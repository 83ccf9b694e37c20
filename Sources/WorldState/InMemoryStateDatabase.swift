import Synchronization

/// The world state in memory, for unit tests and the simulation: same semantics as
/// `RocksStateDatabase`, checked by the same shared test suite.
///
/// Like RocksDB's unsynced writes, applied blocks are durable only once synchronized: `crash`
/// keeps the synchronized state plus a prefix of the later writes, as a machine crash would.
package final class InMemoryStateDatabase: StateDatabase {
    private struct Contents {
        var values: [StateUpdateBatch.Key: VersionedValue] = [:]
        var history: [StateUpdateBatch.Key: [StateVersion]] = [:]
        var savepoint: UInt64?

        mutating func apply(_ batch: StateUpdateBatch, blockNumber: UInt64) {
            for (id, change) in batch.changes {
                values[id] = StateUpdateBatch.resolve(change, over: values[id])
            }
            for entry in batch.historyEntries { history[entry.key, default: []].append(entry.version) }
            savepoint = blockNumber
        }
    }

    private struct Storage {
        var current = Contents()
        var synchronized = Contents()
        var unsynchronized: [(batch: StateUpdateBatch, blockNumber: UInt64)] = []
    }

    private let storage = Mutex(Storage())
    static let unsynchronizedMax = 256

    package init() {}

    package func savepoint() throws(StorageError) -> UInt64? { storage.withLock { $0.current.savepoint } }

    package func makeReader() throws(StorageError) -> any StateReader {
        let copy = storage.withLock { $0.current }
        return InMemoryStateReader(values: copy.values, height: copy.savepoint)
    }

    package func apply(_ batch: StateUpdateBatch, blockNumber: UInt64) throws(StorageError) {
        try checkNext(blockNumber)
        for id in batch.changes.keys { try StateEncoding.checkNamespace(id.namespace) }
        storage.withLock { storage in
            storage.current.apply(batch, blockNumber: blockNumber)
            storage.unsynchronized.append((batch, blockNumber))
            // The oldest unsynchronized writes reach the disk on their own, as a WAL's do.
            if storage.unsynchronized.count > Self.unsynchronizedMax {
                let oldest = storage.unsynchronized.removeFirst()
                storage.synchronized.apply(oldest.batch, blockNumber: oldest.blockNumber)
            }
        }
    }

    package func history(namespace: String, key: String) throws(StorageError) -> [StateVersion] {
        storage.withLock { $0.current.history[StateUpdateBatch.Key(namespace: namespace, key: key)] ?? [] }.reversed()
    }

    /// Blocks applied since the last `synchronize()`.
    package var unsynchronizedCount: Int { storage.withLock { $0.unsynchronized.count } }

    /// Makes every applied block durable (RocksDB syncing its write-ahead log).
    package func synchronize() {
        storage.withLock { storage in
            storage.synchronized = storage.current
            storage.unsynchronized = []
        }
    }

    /// A crash of the machine: the state falls back to the last synchronized one plus the first
    /// `keeping` blocks applied after it (clamped to those there are); later writes are lost.
    package func crash(keeping: Int) {
        storage.withLock { storage in
            let kept = storage.unsynchronized.prefix(max(0, keeping))
            var contents = storage.synchronized
            for (batch, blockNumber) in kept { contents.apply(batch, blockNumber: blockNumber) }
            storage.current = contents
            storage.synchronized = contents
            storage.unsynchronized = []
        }
    }
}

struct InMemoryStateReader: StateReader {
    let values: [StateUpdateBatch.Key: VersionedValue]
    let height: UInt64?

    func get(namespace: String, key: String) throws(StorageError) -> VersionedValue? {
        values[StateUpdateBatch.Key(namespace: namespace, key: key)]
    }

    func range(namespace: String, startKey: String, endKey: String, pageSize: Int) throws(StorageError) -> StatePage {
        try StateEncoding.checkNamespace(namespace)
        let start = Array(startKey.utf8)
        let end = Array(endKey.utf8)
        let matching = values
            .filter { $0.key.namespace == namespace }
            .map { (bytes: Array($0.key.key.utf8), entry: StateEntry(key: $0.key.key, value: $0.value)) }
            .filter { !$0.bytes.lexicographicallyPrecedes(start) && (end.isEmpty || $0.bytes.lexicographicallyPrecedes(end)) }
            .sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        let page = Array(matching.prefix(max(pageSize, 1)))
        let bookmark = matching.count > page.count ? matching[page.count].entry.key : nil
        return StatePage(entries: page.map(\.entry), bookmark: bookmark)
    }
}
