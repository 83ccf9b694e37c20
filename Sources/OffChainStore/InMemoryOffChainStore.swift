import Foundation
import Synchronization

/// An `OffChainStore` in memory: the test double for code that uses a store (STYLE §6), run by the
/// same shared suite as the real backends. Never a deployment choice: it keeps nothing on disk.
package final class InMemoryOffChainStore: OffChainStore {
    private let records = Mutex<[String: [UInt32: StoredRecordVersion]]>([:])
    private let now: @Sendable () -> Date
    private let leases = Mutex<[String: (holder: String, expires: Date)]>([:])

    /// - Parameter now: the clock stamped on new versions and compared with `deletePending` cutoffs.
    package init(now: @escaping @Sendable () -> Date = Date.init) {
        self.now = now
    }

    package func put(_ versions: [EncryptedRecordVersion]) async throws(OffChainStoreError) {
        try PutBatchCheck.check(versions)
        let createdAt = now()
        try records.withLock { records throws(OffChainStoreError) in
            let taken = versions.filter { records[$0.recordID]?[$0.version] != nil }.map { RecordVersionID(recordID: $0.recordID, version: $0.version) }
            guard taken.isEmpty else { throw RecordVersionID.alreadyStored(taken) }
            for version in versions {
                records[version.recordID, default: [:]][version.version] = StoredRecordVersion(encrypted: version, createdAt: createdAt, state: .pending)
            }
        }
    }

    package func get(recordID: String, version: UInt32) async throws(OffChainStoreError) -> StoredRecordVersion? {
        try OffChainStoreLimits.check(recordID: recordID)
        return records.withLock { $0[recordID]?[version] }
    }

    package func latest(recordID: String) async throws(OffChainStoreError) -> StoredRecordVersion? {
        try OffChainStoreLimits.check(recordID: recordID)
        return records.withLock { $0[recordID]?.max { $0.key < $1.key }?.value }
    }

    package func versions(of recordID: String) async throws(OffChainStoreError) -> [RecordVersionSummary] {
        try OffChainStoreLimits.check(recordID: recordID)
        return records.withLock { ($0[recordID] ?? [:]).sorted { $0.key < $1.key }.map(\.value.summary) }
    }

    package func markAnchored(recordID: String, version: UInt32) async throws(OffChainStoreError) {
        try OffChainStoreLimits.check(recordID: recordID)
        try records.withLock { records throws(OffChainStoreError) in
            guard let stored = records[recordID]?[version] else {
                throw OffChainStoreError(.notFound, "record '\(recordID)' version \(version) is not stored")
            }
            records[recordID]?[version] = StoredRecordVersion(encrypted: stored.encrypted, createdAt: stored.createdAt, state: .anchored)
        }
    }

    package func deletePending(createdBefore cutoff: Date) async throws(OffChainStoreError) -> Int {
        records.withLock { records in
            let expired = records.flatMap { recordID, versions in
                versions.values.filter { $0.state == .pending && $0.createdAt < cutoff }.map { RecordVersionID(recordID: recordID, version: $0.encrypted.version) }
            }
            let deleted = expired.sorted().prefix(OffChainStoreLimits.pendingDeletionCountMax)
            for id in deleted {
                records[id.recordID]?[id.version] = nil
                if records[id.recordID]?.isEmpty == true { records[id.recordID] = nil }
            }
            return deleted.count
        }
    }

    package func pendingVersions(createdBefore cutoff: Date) async throws(OffChainStoreError) -> [RecordVersionID] {
        records.withLock { records in
            let pending = records.flatMap { recordID, versions in
                versions.values.filter { $0.state == .pending && $0.createdAt < cutoff }.map { (createdAt: $0.createdAt, id: RecordVersionID(recordID: recordID, version: $0.encrypted.version)) }
            }
            return Array(pending.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.prefix(OffChainStoreLimits.pendingDeletionCountMax).map(\.id))
        }
    }

    package func wrapsToRotate(notUnder current: UInt32, after cursor: RecordVersionID?, limit: Int) async throws(OffChainStoreError) -> [StoredWrap] {
        records.withLock { records in
            var wraps: [StoredWrap] = []
            for recordID in records.keys.sorted() {
                for (version, stored) in records[recordID]!.sorted(by: { $0.key < $1.key }) {
                    let id = RecordVersionID(recordID: recordID, version: version)
                    if let cursor, id <= cursor { continue }
                    for (position, wrapped) in stored.encrypted.wrappedKeys.enumerated() where wrapped.keyVersion != current {
                        wraps.append(StoredWrap(id: id, position: position, wrapped: wrapped))
                    }
                    if wraps.count >= limit { return Array(wraps.prefix(max(limit, 0))) }
                }
            }
            return wraps
        }
    }

    package func replaceWraps(_ replacements: [WrapReplacement]) async throws(OffChainStoreError) -> Int {
        records.withLock { records in
            var replaced = 0
            for replacement in replacements {
                let id = replacement.old.id
                guard let stored = records[id.recordID]?[id.version], stored.encrypted.wrappedKeys.indices.contains(replacement.old.position),
                    stored.encrypted.wrappedKeys[replacement.old.position] == replacement.old.wrapped
                else { continue }
                var keys = stored.encrypted.wrappedKeys
                keys[replacement.old.position] = replacement.new
                records[id.recordID]?[id.version] = StoredRecordVersion(
                    encrypted: EncryptedRecordVersion(sealed: stored.encrypted.sealed, wrappedKeys: keys), createdAt: stored.createdAt,
                    state: stored.state)
                replaced += 1
            }
            return replaced
        }
    }

    package func wrapCounts() async throws(OffChainStoreError) -> [UInt32: Int] {
        records.withLock { records in
            var counts: [UInt32: Int] = [:]
            for versions in records.values {
                for stored in versions.values {
                    for wrapped in stored.encrypted.wrappedKeys { counts[wrapped.keyVersion, default: 0] += 1 }
                }
            }
            return counts
        }
    }

    package func erase(_ ids: [RecordVersionID]) async throws(OffChainStoreError) -> Int {
        records.withLock { records in
            var erased = 0
            for id in ids where records[id.recordID]?.removeValue(forKey: id.version) != nil {
                erased += 1
                if records[id.recordID]?.isEmpty == true { records[id.recordID] = nil }
            }
            return erased
        }
    }

    package func acquireLease(_ name: String, holder: String, for duration: TimeInterval) async throws(OffChainStoreError) -> Bool {
        let now = now()
        return leases.withLock { leases in
            if let lease = leases[name], lease.holder != holder, lease.expires > now { return false }
            leases[name] = (holder, now.addingTimeInterval(duration))
            return true
        }
    }

    /// Replaces a stored version's bytes in place, as an attacker with access to the storage could:
    /// for tests of integrity checks.
    func replaceStoredVersion(recordID: String, version: UInt32, _ change: (StoredRecordVersion) -> StoredRecordVersion) {
        records.withLock { records in
            guard let stored = records[recordID]?[version] else { return }
            records[recordID]?[version] = change(stored)
        }
    }
}
