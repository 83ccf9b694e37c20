import Synchronization

/// The world state in memory, for unit tests: same semantics as `RocksStateDatabase`, checked by
/// the same shared test suite.
package final class InMemoryStateDatabase: StateDatabase {
    private struct Contents {
        var values: [StateUpdateBatch.Key: VersionedValue] = [:]
        var history: [StateUpdateBatch.Key: [StateVersion]] = [:]
        var savepoint: UInt64?
    }

    private let contents = Mutex(Contents())

    package init() {}

    package func savepoint() throws(StorageError) -> UInt64? { contents.withLock { $0.savepoint } }

    package func makeReader() throws(StorageError) -> any StateReader {
        let copy = contents.withLock { $0 }
        return InMemoryStateReader(values: copy.values, height: copy.savepoint)
    }

    package func apply(_ batch: StateUpdateBatch, blockNumber: UInt64) throws(StorageError) {
        try checkNext(blockNumber)
        for id in batch.changes.keys { try StateEncoding.checkNamespace(id.namespace) }
        contents.withLock { contents in
            for (id, change) in batch.changes {
                contents.values[id] = StateUpdateBatch.resolve(change, over: contents.values[id])
            }
            for entry in batch.historyEntries { contents.history[entry.key, default: []].append(entry.version) }
            contents.savepoint = blockNumber
        }
    }

    package func history(namespace: String, key: String) throws(StorageError) -> [StateVersion] {
        contents.withLock { $0.history[StateUpdateBatch.Key(namespace: namespace, key: key)] ?? [] }.reversed()
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
