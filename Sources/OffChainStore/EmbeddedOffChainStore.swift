import Foundation
import Synchronization
import WorldState

/// An `OffChainStore` in a directory on one machine (the single-machine default): a RocksDB
/// database with one column family of versions and one index of pending versions by age
/// (`EmbeddedRowEncoding`). Writes go to the WAL and are fsynced before `put` returns.
///
/// Calls block the calling thread for the duration of a RocksDB read or write (microseconds to
/// milliseconds). Open one store per directory: RocksDB locks it.
package final class EmbeddedOffChainStore: OffChainStore {
    static let versionsFamily = "phi_versions"
    static let pendingFamily = "phi_pending"

    private let database: RocksDatabase
    private let versions: RocksDatabase.ColumnFamily
    private let pending: RocksDatabase.ColumnFamily
    private let now: @Sendable () -> Date
    /// Serializes writers, so that "absent, then write" in `put` and "present, then mark" in
    /// `markAnchored` are atomic.
    private let writerLock = Mutex(())

    /// The directory the store lives in.
    package var directory: URL { URL(fileURLWithPath: database.path) }

    /// Opens (creating if missing) the store in `directory`.
    /// - Parameter now: the clock stamped on new versions and compared with `deletePending` cutoffs.
    package init(directory: URL, now: @escaping @Sendable () -> Date = Date.init) throws(OffChainStoreError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            database = try RocksDatabase(path: directory.path, columnFamilies: [Self.versionsFamily, Self.pendingFamily])
        } catch {
            throw OffChainStoreError(.storage, "cannot open the embedded off-chain store in \(directory.path): \(error)")
        }
        versions = database.columnFamily(Self.versionsFamily)
        pending = database.columnFamily(Self.pendingFamily)
        self.now = now
    }

    /// Closes the database; later calls fail with `.storage`.
    package func close() throws(OffChainStoreError) {
        try storage { () throws(StorageError) in try database.close() }
    }

    package func put(_ newVersions: [EncryptedRecordVersion]) async throws(OffChainStoreError) {
        try PutBatchCheck.check(newVersions)
        let createdAt = now()
        var rows: [(key: [UInt8], value: [UInt8])] = []
        for version in newVersions {
            let stored = StoredRecordVersion(encrypted: version, createdAt: createdAt, state: .pending)
            rows.append((EmbeddedRowEncoding.versionKey(version.recordID, version.version), try EmbeddedRowEncoding.encode(stored)))
        }
        try writerLock.withLock { _ throws(OffChainStoreError) in
            let existing = try storage { () throws(StorageError) in try database.get(many: rows.map(\.key), in: versions) }
            let taken = zip(newVersions, existing).filter { $0.1 != nil }.map { RecordVersionID(recordID: $0.0.recordID, version: $0.0.version) }
            guard taken.isEmpty else { throw RecordVersionID.alreadyStored(taken) }
            let batch = database.makeWriteBatch()
            for row in rows {
                batch.put(row.key, row.value, in: versions)
                batch.put(EmbeddedRowEncoding.pendingKey(createdAt: createdAt, versionKey: row.key), [], in: pending)
            }
            try storage { () throws(StorageError) in try database.write(batch, sync: true) }
        }
    }

    package func get(recordID: String, version: UInt32) async throws(OffChainStoreError) -> StoredRecordVersion? {
        try OffChainStoreLimits.check(recordID: recordID)
        let key = EmbeddedRowEncoding.versionKey(recordID, version)
        guard let bytes = try storage({ () throws(StorageError) in try database.get(key, in: versions) }) else { return nil }
        return try EmbeddedRowEncoding.decode(bytes, key: key)
    }

    package func latest(recordID: String) async throws(OffChainStoreError) -> StoredRecordVersion? {
        try OffChainStoreLimits.check(recordID: recordID)
        let prefix = EmbeddedRowEncoding.recordPrefix(recordID)
        let iterator = try storage { () throws(StorageError) in
            try database.makeIterator(versions, lowerBound: prefix, upperBound: EmbeddedRowEncoding.recordPrefixEnd(recordID))
        }
        iterator.seekToLast()
        guard iterator.isValid else {
            try storage { () throws(StorageError) in try iterator.checkError() }
            return nil
        }
        return try EmbeddedRowEncoding.decode(iterator.value, key: iterator.key)
    }

    package func versions(of recordID: String) async throws(OffChainStoreError) -> [RecordVersionSummary] {
        try OffChainStoreLimits.check(recordID: recordID)
        let iterator = try storage { () throws(StorageError) in
            try database.makeIterator(
                versions, lowerBound: EmbeddedRowEncoding.recordPrefix(recordID), upperBound: EmbeddedRowEncoding.recordPrefixEnd(recordID))
        }
        var summaries: [RecordVersionSummary] = []
        iterator.seekToFirst()
        while iterator.isValid {
            summaries.append(try EmbeddedRowEncoding.decode(iterator.value, key: iterator.key).summary)
            iterator.next()
        }
        try storage { () throws(StorageError) in try iterator.checkError() }
        return summaries
    }

    package func markAnchored(recordID: String, version: UInt32) async throws(OffChainStoreError) {
        try OffChainStoreLimits.check(recordID: recordID)
        let key = EmbeddedRowEncoding.versionKey(recordID, version)
        try writerLock.withLock { _ throws(OffChainStoreError) in
            guard let bytes = try storage({ () throws(StorageError) in try database.get(key, in: versions) }) else {
                throw OffChainStoreError(.notFound, "record '\(recordID)' version \(version) is not stored")
            }
            let stored = try EmbeddedRowEncoding.decode(bytes, key: key)
            guard stored.state == .pending else { return }
            let anchored = StoredRecordVersion(encrypted: stored.encrypted, createdAt: stored.createdAt, state: .anchored)
            let batch = database.makeWriteBatch()
            batch.put(key, try EmbeddedRowEncoding.encode(anchored), in: versions)
            batch.delete(EmbeddedRowEncoding.pendingKey(createdAt: stored.createdAt, versionKey: key), in: pending)
            try storage { () throws(StorageError) in try database.write(batch, sync: true) }
        }
    }

    package func deletePending(createdBefore cutoff: Date) async throws(OffChainStoreError) -> Int {
        try writerLock.withLock { _ throws(OffChainStoreError) in
            let iterator = try storage { () throws(StorageError) in
                try database.makeIterator(pending, upperBound: EmbeddedRowEncoding.pendingUpperBound(cutoff))
            }
            let batch = database.makeWriteBatch()
            var deleted = 0
            iterator.seekToFirst()
            while iterator.isValid, deleted < OffChainStoreLimits.pendingDeletionCountMax {
                let pendingKey = iterator.key
                batch.delete(pendingKey, in: pending)
                batch.delete(Array(pendingKey.dropFirst(8)), in: versions)
                deleted += 1
                iterator.next()
            }
            try storage { () throws(StorageError) in try iterator.checkError() }
            if deleted > 0 { try storage { () throws(StorageError) in try database.write(batch, sync: true) } }
            return deleted
        }
    }

    package func pendingVersions(createdBefore cutoff: Date) async throws(OffChainStoreError) -> [RecordVersionID] {
        let iterator = try storage { () throws(StorageError) in
            try database.makeIterator(pending, upperBound: EmbeddedRowEncoding.pendingUpperBound(cutoff))
        }
        var ids: [RecordVersionID] = []
        iterator.seekToFirst()
        while iterator.isValid, ids.count < OffChainStoreLimits.pendingDeletionCountMax {
            let versionKey = Array(iterator.key.dropFirst(8))
            if let bytes = try storage({ () throws(StorageError) in try database.get(versionKey, in: versions) }) {
                let stored = try EmbeddedRowEncoding.decode(bytes, key: versionKey)
                ids.append(RecordVersionID(recordID: stored.encrypted.recordID, version: stored.encrypted.version))
            }
            iterator.next()
        }
        try storage { () throws(StorageError) in try iterator.checkError() }
        return ids
    }

    package func wrapsToRotate(notUnder current: UInt32, after cursor: RecordVersionID?, limit: Int) async throws(OffChainStoreError) -> [StoredWrap] {
        let iterator = try storage { () throws(StorageError) in try database.makeIterator(versions) }
        var wraps: [StoredWrap] = []
        if let cursor {
            // The first key after the cursor's version (keys sort as record id, zero byte, version).
            iterator.seek(to: EmbeddedRowEncoding.versionKey(cursor.recordID, cursor.version) + [0])
        } else {
            iterator.seekToFirst()
        }
        while iterator.isValid, wraps.count < limit {
            let stored = try EmbeddedRowEncoding.decode(iterator.value, key: iterator.key)
            let id = RecordVersionID(recordID: stored.encrypted.recordID, version: stored.encrypted.version)
            for (position, wrapped) in stored.encrypted.wrappedKeys.enumerated() where wrapped.keyVersion != current {
                wraps.append(StoredWrap(id: id, position: position, wrapped: wrapped))
            }
            iterator.next()
        }
        try storage { () throws(StorageError) in try iterator.checkError() }
        return wraps
    }

    package func replaceWraps(_ replacements: [WrapReplacement]) async throws(OffChainStoreError) -> Int {
        try writerLock.withLock { _ throws(OffChainStoreError) in
            var rows: [[UInt8]: StoredRecordVersion] = [:]
            var replaced = 0
            for replacement in replacements {
                let id = replacement.old.id
                let key = EmbeddedRowEncoding.versionKey(id.recordID, id.version)
                var stored: StoredRecordVersion
                if let pendingRow = rows[key] {
                    stored = pendingRow
                } else {
                    guard let bytes = try storage({ () throws(StorageError) in try database.get(key, in: versions) }) else { continue }
                    stored = try EmbeddedRowEncoding.decode(bytes, key: key)
                }
                guard stored.encrypted.wrappedKeys.indices.contains(replacement.old.position),
                    stored.encrypted.wrappedKeys[replacement.old.position] == replacement.old.wrapped
                else { continue }
                var keys = stored.encrypted.wrappedKeys
                keys[replacement.old.position] = replacement.new
                stored = StoredRecordVersion(
                    encrypted: EncryptedRecordVersion(sealed: stored.encrypted.sealed, wrappedKeys: keys), createdAt: stored.createdAt,
                    state: stored.state)
                rows[key] = stored
                replaced += 1
            }
            guard !rows.isEmpty else { return 0 }
            let batch = database.makeWriteBatch()
            for (key, stored) in rows { batch.put(key, try EmbeddedRowEncoding.encode(stored), in: versions) }
            try storage { () throws(StorageError) in try database.write(batch, sync: true) }
            return replaced
        }
    }

    package func wrapCounts() async throws(OffChainStoreError) -> [UInt32: Int] {
        let iterator = try storage { () throws(StorageError) in try database.makeIterator(versions) }
        var counts: [UInt32: Int] = [:]
        iterator.seekToFirst()
        while iterator.isValid {
            for wrapped in try EmbeddedRowEncoding.decode(iterator.value, key: iterator.key).encrypted.wrappedKeys {
                counts[wrapped.keyVersion, default: 0] += 1
            }
            iterator.next()
        }
        try storage { () throws(StorageError) in try iterator.checkError() }
        return counts
    }

    package func erase(_ ids: [RecordVersionID]) async throws(OffChainStoreError) -> Int {
        let erased = try writerLock.withLock { _ throws(OffChainStoreError) -> Int in
            let batch = database.makeWriteBatch()
            var erased = 0
            for id in ids {
                try OffChainStoreLimits.check(recordID: id.recordID)
                let key = EmbeddedRowEncoding.versionKey(id.recordID, id.version)
                guard let bytes = try storage({ () throws(StorageError) in try database.get(key, in: versions) }) else { continue }
                let stored = try EmbeddedRowEncoding.decode(bytes, key: key)
                batch.delete(key, in: versions)
                batch.delete(EmbeddedRowEncoding.pendingKey(createdAt: stored.createdAt, versionKey: key), in: pending)
                erased += 1
            }
            guard erased > 0 else { return 0 }
            try storage { () throws(StorageError) in try database.write(batch, sync: true) }
            return erased
        }
        // The deleted rows are still in SST files and the write-ahead log until they are
        // rewritten: flush and compact, so no byte of an erased version stays on disk here.
        if erased > 0 { try storage { () throws(StorageError) in try database.flushAndCompactAll() } }
        return erased
    }

    package func acquireLease(_ name: String, holder: String, for duration: TimeInterval) async throws(OffChainStoreError) -> Bool {
        // One process opens the directory (RocksDB locks it): the lease is always this peer's.
        true
    }

    /// Runs a RocksDB call, turning its `StorageError` into `.storage`.
    private func storage<T>(_ body: () throws(StorageError) -> T) throws(OffChainStoreError) -> T {
        do {
            return try body()
        } catch {
            throw OffChainStoreError(.storage, "embedded off-chain store in \(database.path): \(error)")
        }
    }
}
