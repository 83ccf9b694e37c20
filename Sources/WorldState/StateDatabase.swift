/// Reads of the world state at one height: every read through one reader sees the same committed
/// state, however many blocks commit meanwhile. Simulation reads through a reader.
package protocol StateReader: Sendable {
    /// The last block applied to the state this reader sees; nil before the first block.
    var height: UInt64? { get }

    func get(namespace: String, key: String) throws(StorageError) -> VersionedValue?

    /// Values of several keys at once (nil where absent), in the order asked.
    func getMany(namespace: String, keys: [String]) throws(StorageError) -> [VersionedValue?]

    /// Keys in [startKey, endKey) of a namespace in key order (UTF-8 byte order); an empty
    /// `endKey` leaves the range open. At most `pageSize` entries; continue from `bookmark`.
    func range(namespace: String, startKey: String, endKey: String, pageSize: Int) throws(StorageError) -> StatePage
}

extension StateReader {
    /// One `get` per key; backends with a batched read override it.
    package func getMany(namespace: String, keys: [String]) throws(StorageError) -> [VersionedValue?] {
        var values: [VersionedValue?] = []
        values.reserveCapacity(keys.count)
        for key in keys { values.append(try get(namespace: namespace, key: key)) }
        return values
    }

    /// Keys that start with the composite-key prefix of `objectType` and `attributes` (Fabric's
    /// partial composite key query). Continue a page by passing its bookmark as `startKey`.
    package func partialCompositeKey(
        namespace: String, objectType: String, attributes: [String], pageSize: Int, startKey: String? = nil
    ) throws(StorageError) -> StatePage {
        let prefix = try CompositeKeyCodec.prefix(objectType: objectType, attributes: attributes)
        return try range(namespace: namespace, startKey: startKey ?? prefix, endKey: prefix + String(CompositeKeyCodec.maxCodePoint), pageSize: pageSize)
    }
}

/// The world state of one channel: committed values with their versions and metadata, and the
/// savepoint (the last block whose updates it holds). Backends: RocksDB, and in-memory for tests;
/// one shared test suite runs against both.
package protocol StateDatabase: Sendable {
    /// The last block applied; nil before the first.
    func savepoint() throws(StorageError) -> UInt64?

    /// A reader over the state as it is now (a consistent snapshot).
    func makeReader() throws(StorageError) -> any StateReader

    /// Writes every change of a block, its history entries and the new savepoint `blockNumber`
    /// atomically (one RocksDB write batch). `blockNumber` must follow the current savepoint.
    func apply(_ batch: StateUpdateBatch, blockNumber: UInt64) throws(StorageError)

    /// Versions at which `key` was written or deleted, newest first.
    func history(namespace: String, key: String) throws(StorageError) -> [StateVersion]
}

extension StateDatabase {
    func checkNext(_ blockNumber: UInt64) throws(StorageError) {
        let current = try savepoint()
        let expected = current.map { $0 + 1 } ?? 0
        guard blockNumber == expected else {
            throw StorageError(.invalidArgument, "state is at \(current.map(String.init) ?? "no block"); cannot apply block \(blockNumber)")
        }
    }
}
