import CRocksDB
import Foundation
import Synchronization

/// A RocksDB database opened through its C API, with named column families. Every handle and
/// every buffer RocksDB allocates is freed here; C errors become `StorageError`s.
///
/// `@unchecked Sendable`: RocksDB's `DB` is safe for concurrent reads and writes from many
/// threads; the only mutable Swift state (open/closed and the count of live snapshots and
/// iterators) is guarded by a `Mutex`.
package final class RocksDatabase: @unchecked Sendable {
    package struct ColumnFamily: Hashable, Sendable {
        fileprivate let index: Int
        package let name: String
    }

    private let handle: OpaquePointer
    private let options: OpaquePointer
    private let columnFamilyHandles: [OpaquePointer]
    private let columnFamilyOptions: OpaquePointer
    private let readOptions: OpaquePointer
    private let asyncWriteOptions: OpaquePointer
    private let syncWriteOptions: OpaquePointer
    private let state = Mutex(State())
    package let path: String
    package let columnFamilies: [String: ColumnFamily]

    private struct State {
        var isClosed = false
        var liveChildren = 0
    }

    /// Whether the database was opened read-only: writes fail and nothing on disk changes.
    package let isReadOnly: Bool

    /// The column families of the existing database at `path` (`default` included).
    package static func columnFamilies(at path: String) throws(StorageError) -> [String] {
        let options = rocksdb_options_create()!
        defer { rocksdb_options_destroy(options) }
        var count = 0
        var error: UnsafeMutablePointer<CChar>?
        let list = rocksdb_list_column_families(options, path, &count, &error)
        if let message = takeError(error) { throw StorageError(.database, "cannot list the column families of \(path): \(message)") }
        guard let list else { return [] }
        defer { rocksdb_list_column_families_destroy(list, count) }
        return (0..<count).compactMap { list[$0].map { String(cString: $0) } }
    }

    /// Opens the database at `path` with the given column families (`default` is always present
    /// and need not be listed): creating what is missing, or with `readOnly`, changing nothing
    /// (a missing database or column family is an error then; `medrex ledger verify` opens so).
    package init(path: String, columnFamilies names: [String], readOnly: Bool = false) throws(StorageError) {
        let allNames = ["default"] + names.filter { $0 != "default" }
        let databaseOptions = rocksdb_options_create()!
        rocksdb_options_set_create_if_missing(databaseOptions, readOnly ? 0 : 1)
        rocksdb_options_set_create_missing_column_families(databaseOptions, readOnly ? 0 : 1)
        rocksdb_options_increase_parallelism(databaseOptions, 2)
        let familyOptions = rocksdb_options_create()!
        // Point reads dominate (txid lookups that mostly miss, state versions, definitions):
        // whole-key bloom filters in the SST files and in the memtable let a read of an absent
        // key skip the searches. Range scans are unaffected.
        let tableOptions = rocksdb_block_based_options_create()!
        rocksdb_block_based_options_set_filter_policy(tableOptions, rocksdb_filterpolicy_create_bloom(10))
        rocksdb_options_set_block_based_table_factory(familyOptions, tableOptions)
        rocksdb_block_based_options_destroy(tableOptions)
        rocksdb_options_set_memtable_whole_key_filtering(familyOptions, 1)
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(familyOptions, 0.05)
        var handles = [OpaquePointer?](repeating: nil, count: allNames.count)
        var error: UnsafeMutablePointer<CChar>?
        let cNames = allNames.map { strdup($0) }
        defer { cNames.forEach { free($0) } }
        let familyOptionList = [OpaquePointer?](repeating: familyOptions, count: allNames.count)
        let opened = cNames.map { UnsafePointer($0) }.withUnsafeBufferPointer { namePointers in
            familyOptionList.withUnsafeBufferPointer { optionPointers in
                readOnly
                    ? rocksdb_open_for_read_only_column_families(
                        databaseOptions, path, Int32(allNames.count), namePointers.baseAddress, optionPointers.baseAddress,
                        &handles, 0, &error)
                    : rocksdb_open_column_families(
                        databaseOptions, path, Int32(allNames.count), namePointers.baseAddress, optionPointers.baseAddress,
                        &handles, &error)
            }
        }
        let message = Self.takeError(error)
        guard message == nil, let opened else {
            rocksdb_options_destroy(familyOptions)
            rocksdb_options_destroy(databaseOptions)
            throw StorageError(.database, "cannot open RocksDB at \(path): \(message ?? "unknown error")")
        }
        options = databaseOptions
        columnFamilyOptions = familyOptions
        handle = opened
        columnFamilyHandles = handles.map { $0! }
        readOptions = rocksdb_readoptions_create()
        asyncWriteOptions = rocksdb_writeoptions_create()
        syncWriteOptions = rocksdb_writeoptions_create()
        rocksdb_writeoptions_set_sync(syncWriteOptions, 1)
        self.path = path
        isReadOnly = readOnly
        columnFamilies = Dictionary(uniqueKeysWithValues: allNames.enumerated().map { ($1, ColumnFamily(index: $0, name: $1)) })
    }

    deinit {
        closeHandles()
    }

    /// Closes the database. Refused while snapshots or iterators are alive; later calls fail
    /// with `.closed`.
    package func close() throws(StorageError) {
        try state.withLock { state throws(StorageError) in
            guard !state.isClosed else { return }
            guard state.liveChildren == 0 else {
                throw StorageError(.closed, "\(state.liveChildren) snapshots or iterators are still open")
            }
            state.isClosed = true
        }
        closeHandles()
    }

    private let handlesClosed = Atomic<Bool>(false)

    private func closeHandles() {
        guard !handlesClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        columnFamilyHandles.forEach { rocksdb_column_family_handle_destroy($0) }
        rocksdb_close(handle)
        rocksdb_readoptions_destroy(readOptions)
        rocksdb_writeoptions_destroy(asyncWriteOptions)
        rocksdb_writeoptions_destroy(syncWriteOptions)
        rocksdb_options_destroy(columnFamilyOptions)
        rocksdb_options_destroy(options)
    }

    package func columnFamily(_ name: String) -> ColumnFamily {
        guard let family = columnFamilies[name] else { preconditionFailure("column family '\(name)' was not opened") }
        return family
    }

    private func checkOpen() throws(StorageError) {
        if state.withLock({ $0.isClosed }) { throw StorageError(.closed, "database at \(path) is closed") }
    }

    // MARK: - Reads and writes

    /// The value of `key`, or nil; read from `snapshot` when given.
    package func get(_ key: [UInt8], in family: ColumnFamily, snapshot: RocksSnapshot? = nil) throws(StorageError) -> [UInt8]? {
        try checkOpen()
        var length = 0
        var error: UnsafeMutablePointer<CChar>?
        let value: UnsafeMutablePointer<CChar>? = key.withUnsafeBufferPointer { keyBuffer in
            if let snapshot {
                return rocksdb_get_cf(handle, snapshot.readOptions, columnFamilyHandles[family.index],
                                      keyBuffer.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, key.count, &length, &error)
            }
            return rocksdb_get_cf(handle, readOptions, columnFamilyHandles[family.index],
                                  keyBuffer.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, key.count, &length, &error)
        }
        if let message = Self.takeError(error) { throw StorageError(.database, "get failed: \(message)") }
        guard let value else { return nil }
        defer { rocksdb_free(value) }
        return Array(UnsafeRawBufferPointer(start: value, count: length))
    }

    /// The values of `keys` (nil where absent) in one RocksDB MultiGet, read from `snapshot` when
    /// given.
    package func get(many keys: [[UInt8]], in family: ColumnFamily, snapshot: RocksSnapshot? = nil) throws(StorageError) -> [[UInt8]?] {
        try checkOpen()
        guard !keys.isEmpty else { return [] }
        let count = keys.count
        // One contiguous buffer holds every key; RocksDB reads them through pointers into it.
        let joined = keys.flatMap { $0 }
        var offsets: [Int] = []
        offsets.reserveCapacity(count)
        var position = 0
        for key in keys {
            offsets.append(position)
            position += key.count
        }
        let sizes = keys.map(\.count)
        let families = [OpaquePointer?](repeating: columnFamilyHandles[family.index], count: count)
        var values = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        var valueSizes = [Int](repeating: 0, count: count)
        var errors = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        joined.withUnsafeBufferPointer { keyBytes in
            let base = UnsafeRawPointer(keyBytes.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            let pointers: [UnsafePointer<CChar>?] = offsets.map { base.advanced(by: $0).assumingMemoryBound(to: CChar.self) }
            rocksdb_multi_get_cf(
                handle, snapshot?.readOptions ?? readOptions, families, count, pointers, sizes, &values, &valueSizes, &errors)
        }
        defer {
            for value in values { if let value { rocksdb_free(value) } }
        }
        var firstError: String?
        for error in errors {
            if let message = Self.takeError(error), firstError == nil { firstError = message }
        }
        if let firstError { throw StorageError(.database, "multi-get failed: \(firstError)") }
        return zip(values, valueSizes).map { value, size in
            value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
        }
    }

    /// Applies `batch` atomically. With `sync`, returns only after the WAL is fsynced.
    package func write(_ batch: RocksWriteBatch, sync: Bool = false) throws(StorageError) {
        try checkOpen()
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_write(handle, sync ? syncWriteOptions : asyncWriteOptions, batch.handle, &error)
        if let message = Self.takeError(error) { throw StorageError(.database, "write failed: \(message)") }
    }

    package func makeWriteBatch() -> RocksWriteBatch { RocksWriteBatch(database: self) }

    /// Flushes every column family's memtable to SST files and compacts all of them, so that
    /// deleted values leave the database's files: the SST files holding them are rewritten
    /// without them, and write-ahead logs older than the flush are removed. For erasure; slow
    /// on a large database.
    package func flushAndCompactAll() throws(StorageError) {
        try checkOpen()
        let flushOptions = rocksdb_flushoptions_create()!
        defer { rocksdb_flushoptions_destroy(flushOptions) }
        rocksdb_flushoptions_set_wait(flushOptions, 1)
        for family in columnFamilyHandles {
            var error: UnsafeMutablePointer<CChar>?
            rocksdb_flush_cf(handle, flushOptions, family, &error)
            if let message = Self.takeError(error) { throw StorageError(.database, "flush failed: \(message)") }
        }
        // Bottommost files are rewritten too (kForce), so a deleted value there does not survive.
        let compactOptions = rocksdb_compactoptions_create()!
        defer { rocksdb_compactoptions_destroy(compactOptions) }
        rocksdb_compactoptions_set_bottommost_level_compaction(compactOptions, 2)
        for family in columnFamilyHandles {
            rocksdb_compact_range_cf_opt(handle, family, compactOptions, nil, 0, nil, 0)
        }
    }

    /// A consistent view of the database as of now, released when the value goes away.
    package func makeSnapshot() throws(StorageError) -> RocksSnapshot {
        try retainChild()
        return RocksSnapshot(database: self, snapshot: rocksdb_create_snapshot(handle))
    }

    /// An iterator over `family` limited to [lowerBound, upperBound) (nil = open), reading from
    /// `snapshot` when given.
    package func makeIterator(
        _ family: ColumnFamily, lowerBound: [UInt8]? = nil, upperBound: [UInt8]? = nil, snapshot: RocksSnapshot? = nil
    ) throws(StorageError) -> RocksIterator {
        try retainChild()
        return RocksIterator(database: self, family: family, lowerBound: lowerBound, upperBound: upperBound, snapshot: snapshot)
    }

    // MARK: - Internals shared with the handle types

    fileprivate func retainChild() throws(StorageError) {
        try state.withLock { state throws(StorageError) in
            guard !state.isClosed else { throw StorageError(.closed, "database is closed") }
            state.liveChildren += 1
        }
    }

    fileprivate func releaseChild() {
        state.withLock { $0.liveChildren -= 1 }
    }

    fileprivate var databaseHandle: OpaquePointer { handle }
    fileprivate func familyHandle(_ family: ColumnFamily) -> OpaquePointer { columnFamilyHandles[family.index] }

    /// Converts a RocksDB error string to Swift and frees it.
    fileprivate static func takeError(_ error: UnsafeMutablePointer<CChar>?) -> String? {
        guard let error else { return nil }
        defer { rocksdb_free(error) }
        return String(cString: error)
    }
}

/// A RocksDB write batch: puts and deletes applied atomically by `RocksDatabase.write`.
/// Not shared between tasks.
package final class RocksWriteBatch {
    fileprivate let handle: OpaquePointer
    private let database: RocksDatabase

    fileprivate init(database: RocksDatabase) {
        self.database = database
        handle = rocksdb_writebatch_create()
    }

    deinit { rocksdb_writebatch_destroy(handle) }

    package func put(_ key: [UInt8], _ value: [UInt8], in family: RocksDatabase.ColumnFamily) {
        key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                rocksdb_writebatch_put_cf(
                    handle, database.familyHandle(family),
                    keyBytes.baseAddress?.assumingMemoryBound(to: CChar.self), keyBytes.count,
                    valueBytes.baseAddress?.assumingMemoryBound(to: CChar.self), valueBytes.count)
            }
        }
    }

    package func delete(_ key: [UInt8], in family: RocksDatabase.ColumnFamily) {
        key.withUnsafeBytes { keyBytes in
            rocksdb_writebatch_delete_cf(handle, database.familyHandle(family), keyBytes.baseAddress?.assumingMemoryBound(to: CChar.self), keyBytes.count)
        }
    }

    package var count: Int { Int(rocksdb_writebatch_count(handle)) }
}

/// A RocksDB snapshot: reads through it see the database as it was when it was taken.
///
/// `@unchecked Sendable`: the snapshot and its read options are immutable after creation and
/// RocksDB allows concurrent reads through one snapshot.
package final class RocksSnapshot: @unchecked Sendable {
    fileprivate let readOptions: OpaquePointer
    private let snapshot: OpaquePointer
    private let database: RocksDatabase

    fileprivate init(database: RocksDatabase, snapshot: OpaquePointer) {
        self.database = database
        self.snapshot = snapshot
        readOptions = rocksdb_readoptions_create()
        rocksdb_readoptions_set_snapshot(readOptions, snapshot)
    }

    deinit {
        rocksdb_readoptions_destroy(readOptions)
        rocksdb_release_snapshot(database.databaseHandle, snapshot)
        database.releaseChild()
    }
}

/// A RocksDB iterator over one column family within optional bounds. Not shared between tasks.
package final class RocksIterator {
    private let handle: OpaquePointer
    private let readOptions: OpaquePointer
    private let database: RocksDatabase
    private let snapshot: RocksSnapshot?
    /// RocksDB keeps pointers to the bound keys; they live as long as the iterator.
    private let lowerBound: UnsafeMutableRawBufferPointer?
    private let upperBound: UnsafeMutableRawBufferPointer?

    fileprivate init(database: RocksDatabase, family: RocksDatabase.ColumnFamily, lowerBound: [UInt8]?, upperBound: [UInt8]?, snapshot: RocksSnapshot?) {
        self.database = database
        self.snapshot = snapshot
        readOptions = rocksdb_readoptions_create()
        if let snapshot { rocksdb_readoptions_set_snapshot(readOptions, snapshot.snapshotHandle) }
        self.lowerBound = lowerBound.map(Self.copy)
        self.upperBound = upperBound.map(Self.copy)
        if let bound = self.lowerBound {
            rocksdb_readoptions_set_iterate_lower_bound(readOptions, bound.baseAddress?.assumingMemoryBound(to: CChar.self), bound.count)
        }
        if let bound = self.upperBound {
            rocksdb_readoptions_set_iterate_upper_bound(readOptions, bound.baseAddress?.assumingMemoryBound(to: CChar.self), bound.count)
        }
        handle = rocksdb_create_iterator_cf(database.databaseHandle, readOptions, database.familyHandle(family))
    }

    deinit {
        rocksdb_iter_destroy(handle)
        rocksdb_readoptions_destroy(readOptions)
        lowerBound?.deallocate()
        upperBound?.deallocate()
        database.releaseChild()
    }

    private static func copy(_ bytes: [UInt8]) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        buffer.copyBytes(from: bytes)
        return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes.count])
    }

    package func seekToFirst() { rocksdb_iter_seek_to_first(handle) }
    package func seekToLast() { rocksdb_iter_seek_to_last(handle) }

    package func seek(to key: [UInt8]) {
        key.withUnsafeBytes { rocksdb_iter_seek(handle, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
    }

    /// Positions at the last key ≤ `key`.
    package func seekForPrevious(_ key: [UInt8]) {
        key.withUnsafeBytes { rocksdb_iter_seek_for_prev(handle, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
    }

    package var isValid: Bool { rocksdb_iter_valid(handle) != 0 }
    package func next() { rocksdb_iter_next(handle) }
    package func previous() { rocksdb_iter_prev(handle) }

    package var key: [UInt8] {
        var length = 0
        let pointer = rocksdb_iter_key(handle, &length)
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    package var value: [UInt8] {
        var length = 0
        let pointer = rocksdb_iter_value(handle, &length)
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    /// Throws when iteration stopped because of an error rather than the end of the range.
    package func checkError() throws(StorageError) {
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_iter_get_error(handle, &error)
        if let message = RocksDatabase.takeError(error) { throw StorageError(.database, "iteration failed: \(message)") }
    }
}

extension RocksSnapshot {
    fileprivate var snapshotHandle: OpaquePointer { snapshot }
}
