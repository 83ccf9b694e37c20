/// The world state in RocksDB: column families `state` (values), `history` (versions per key)
/// and `savepoint`. A block's changes, history entries and savepoint go in one write batch,
/// without fsync: the block itself is fsynced in the block store first, so a lost batch is
/// replayed from it on restart.
package final class RocksStateDatabase: StateDatabase {
    static let columnFamilies = ["state", "history", "savepoint"]
    private static let savepointKey = Array("savepoint".utf8)

    private let database: RocksDatabase
    private let state: RocksDatabase.ColumnFamily
    private let historyFamily: RocksDatabase.ColumnFamily
    private let savepointFamily: RocksDatabase.ColumnFamily

    /// `database` must have been opened with `RocksStateDatabase.columnFamilies`.
    package init(database: RocksDatabase) {
        self.database = database
        state = database.columnFamily("state")
        historyFamily = database.columnFamily("history")
        savepointFamily = database.columnFamily("savepoint")
    }

    package func savepoint() throws(StorageError) -> UInt64? {
        try readSavepoint(snapshot: nil)
    }

    private func readSavepoint(snapshot: RocksSnapshot?) throws(StorageError) -> UInt64? {
        guard let bytes = try database.get(Self.savepointKey, in: savepointFamily, snapshot: snapshot) else { return nil }
        guard bytes.count == 8 else { throw StorageError(.corruption, "savepoint is \(bytes.count) bytes, not 8") }
        return StateEncoding.integer(bytes)
    }

    package func makeReader() throws(StorageError) -> any StateReader {
        let snapshot = try database.makeSnapshot()
        return RocksStateReader(database: database, family: state, snapshot: snapshot, height: try readSavepoint(snapshot: snapshot))
    }

    package func apply(_ batch: StateUpdateBatch, blockNumber: UInt64) throws(StorageError) {
        try checkNext(blockNumber)
        let writes = database.makeWriteBatch()
        let changes = Array(batch.changes)
        for (id, _) in changes { try StateEncoding.checkNamespace(id.namespace) }
        let keys = changes.map { StateEncoding.stateKey(namespace: $0.key.namespace, key: $0.key.key) }
        // Only changes that keep part of the old entry (value or metadata) need it read first.
        let needsExisting = changes.map { _, change -> Bool in
            switch change.value {
            case .deleted: false
            case .set: change.metadata == nil || change.metadataNeedsCommittedKey
            case .unchanged: true
            }
        }
        let readIndices = needsExisting.indices.filter { needsExisting[$0] }
        let existingBytes = try database.get(many: readIndices.map { keys[$0] }, in: state)
        var existing = [VersionedValue?](repeating: nil, count: changes.count)
        for (position, bytes) in zip(readIndices, existingBytes) {
            existing[position] = try bytes.map { bytes throws(StorageError) in try StateEncoding.decode(bytes) }
        }
        for (position, (_, change)) in changes.enumerated() {
            if let resolved = StateUpdateBatch.resolve(change, over: existing[position]) {
                writes.put(keys[position], try StateEncoding.encode(resolved), in: state)
            } else {
                writes.delete(keys[position], in: state)
            }
        }
        for entry in batch.historyEntries {
            writes.put(StateEncoding.historyKey(namespace: entry.key.namespace, key: entry.key.key, version: entry.version), [], in: historyFamily)
        }
        writes.put(Self.savepointKey, StateEncoding.bigEndian(blockNumber), in: savepointFamily)
        try database.write(writes)
    }

    package func history(namespace: String, key: String) throws(StorageError) -> [StateVersion] {
        let prefix = StateEncoding.historyPrefix(namespace: namespace, key: key)
        let iterator = try database.makeIterator(historyFamily, lowerBound: prefix, upperBound: prefix + [UInt8](repeating: 0xff, count: 13))
        var versions: [StateVersion] = []
        iterator.seekToLast()
        while iterator.isValid {
            let entryKey = iterator.key
            if entryKey.count == prefix.count + 12 { versions.append(StateEncoding.version(fromHistoryKey: entryKey)) }
            iterator.previous()
        }
        try iterator.checkError()
        return versions
    }
}

/// Reads through one RocksDB snapshot.
struct RocksStateReader: StateReader {
    let database: RocksDatabase
    let family: RocksDatabase.ColumnFamily
    let snapshot: RocksSnapshot
    let height: UInt64?

    func get(namespace: String, key: String) throws(StorageError) -> VersionedValue? {
        guard let bytes = try database.get(StateEncoding.stateKey(namespace: namespace, key: key), in: family, snapshot: snapshot) else { return nil }
        return try StateEncoding.decode(bytes)
    }

    /// One MultiGet for all keys.
    func getMany(namespace: String, keys: [String]) throws(StorageError) -> [VersionedValue?] {
        let values = try database.get(many: keys.map { StateEncoding.stateKey(namespace: namespace, key: $0) }, in: family, snapshot: snapshot)
        var result: [VersionedValue?] = []
        result.reserveCapacity(values.count)
        for bytes in values { result.append(try bytes.map { bytes throws(StorageError) in try StateEncoding.decode(bytes) }) }
        return result
    }

    func range(namespace: String, startKey: String, endKey: String, pageSize: Int) throws(StorageError) -> StatePage {
        try StateEncoding.checkNamespace(namespace)
        let lower = StateEncoding.stateKey(namespace: namespace, key: startKey)
        let upper = endKey.isEmpty ? StateEncoding.namespaceEnd(namespace) : StateEncoding.stateKey(namespace: namespace, key: endKey)
        let iterator = try database.makeIterator(family, lowerBound: lower, upperBound: upper, snapshot: snapshot)
        let keyOffset = namespace.utf8.count + 1
        var entries: [StateEntry] = []
        iterator.seek(to: lower)
        while iterator.isValid, entries.count < max(pageSize, 1) {
            let key = String(decoding: iterator.key[keyOffset...], as: UTF8.self)
            entries.append(StateEntry(key: key, value: try StateEncoding.decode(iterator.value)))
            iterator.next()
        }
        let bookmark = iterator.isValid ? String(decoding: iterator.key[keyOffset...], as: UTF8.self) : nil
        try iterator.checkError()
        return StatePage(entries: entries, bookmark: bookmark)
    }
}
