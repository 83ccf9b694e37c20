import LedgerCore

/// etcd v3's key-value contract in one process, on an injected clock: revisions (one per write
/// request, starting at 1), per-key create/mod revisions and versions, reads of past revisions,
/// compaction, leases that expire when the clock passes their TTL without a renewal, transactions
/// that compare and swap, and watches that replay from a revision and then follow.
///
/// Lease expiry is looked at before every request (and on `expireLeases()`), so with a manual
/// clock it happens at a deterministic point: the first request after the deadline sees the
/// lease's keys gone, as an etcd client would.
package actor InMemoryEtcd: EtcdKeyValueStore {
    /// One revision of one key: its value, or nil where it was deleted.
    private struct Version {
        let revision: Int64
        let keyValue: KeyValue?
    }

    private struct LeaseState {
        var ttlSeconds: Int64
        var deadline: Duration
        var keys: Set<[UInt8]> = []
    }

    private struct Watcher {
        let range: KeyRange
        /// The next revision this watcher reports.
        var next: Int64
        let continuation: AsyncThrowingStream<[WatchEvent], any Error>.Continuation
    }

    package nonisolated let clock: any LedgerClock
    private var revision: Int64 = 1
    private var compactedRevision: Int64 = 0
    /// Every key's versions since the last compaction, oldest first.
    private var versions: [[UInt8]: [Version]] = [:]
    private var leases: [Int64: LeaseState] = [:]
    private var nextLeaseID: Int64 = 0x694d_0000_0000_0000
    private var watchers: [Int: Watcher] = [:]
    private var nextWatcherID = 0

    package init(clock: any LedgerClock) {
        self.clock = clock
    }

    /// The store's current revision.
    package var currentRevision: Int64 { revision }

    // MARK: - Key-values

    package func range(_ range: KeyRange, limit: Int64, revision wanted: Int64) throws -> RangeResult {
        expireLeases()
        guard limit >= 0 else { throw EtcdError(.invalidArgument, "a range limit cannot be negative, not \(limit)") }
        let at = wanted == 0 ? revision : wanted
        guard at >= compactedRevision else {
            throw EtcdError(.compacted, "range: required revision \(at) has been compacted (compacted revision \(compactedRevision))")
        }
        guard at <= revision else { throw EtcdError(.rejected, "range: required revision \(at) is a future revision (current \(revision))") }
        let found = keyValues(in: range, at: at)
        let kept = limit == 0 ? found : Array(found.prefix(Int(clamping: limit)))
        return RangeResult(keyValues: kept, more: kept.count < found.count, count: Int64(found.count), revision: revision)
    }

    @discardableResult
    package func put(_ key: [UInt8], _ value: [UInt8], lease: LeaseID?) throws -> Int64 {
        expireLeases()
        try EtcdKeyValueStoreRules.checkKey(key)
        try checkLease(lease)
        revision += 1
        apply(.put(key: key, value: value, lease: lease))
        publish()
        return revision
    }

    @discardableResult
    package func delete(_ range: KeyRange) -> Int64 {
        expireLeases()
        let deleted = deleteKeys(in: range, at: revision + 1)
        if deleted > 0 {
            revision += 1
            publish()
        }
        return Int64(deleted)
    }

    package func transaction(compare: [Comparison], success: [Operation], failure: [Operation]) throws -> TransactionResult {
        expireLeases()
        let holds = compare.allSatisfy(self.holds)
        let branch = holds ? success : failure
        var written = Set<[UInt8]>()
        for operation in branch {
            switch operation {
            case .put(let key, _, let lease):
                try EtcdKeyValueStoreRules.checkKey(key)
                try checkLease(lease)
                guard written.insert(key).inserted else { throw EtcdError(.rejected, "transaction: duplicate key given in txn request") }
            case .delete, .range: break
            }
        }
        let writes = branch.contains { operation in
            switch operation {
            case .put: true
            case .delete(let range): !keyValues(in: range, at: revision).isEmpty
            case .range: false
            }
        }
        // Every write of the branch is at one new revision; reads see the writes before them.
        if writes { revision += 1 }
        var results: [OperationResult] = []
        for operation in branch {
            switch operation {
            case .put:
                apply(operation)
                results.append(.put)
            case .delete(let range):
                results.append(.delete(deleted: Int64(deleteKeys(in: range, at: revision))))
            case .range(let range, let limit):
                let found = keyValues(in: range, at: revision)
                let kept = limit <= 0 ? found : Array(found.prefix(Int(clamping: limit)))
                results.append(.range(RangeResult(keyValues: kept, more: kept.count < found.count, count: Int64(found.count), revision: revision)))
            }
        }
        if writes { publish() }
        return TransactionResult(succeeded: holds, revision: revision, results: results)
    }

    package func compact(revision target: Int64, physical: Bool) throws {
        expireLeases()
        guard target > compactedRevision else {
            throw EtcdError(.compacted, "compact: required revision \(target) has been compacted (compacted revision \(compactedRevision))")
        }
        guard target <= revision else { throw EtcdError(.rejected, "compact: required revision \(target) is a future revision (current \(revision))") }
        compactedRevision = target
        for (key, history) in versions {
            // Keep the newest version at or below the target (what a read at the target sees) and every later one.
            let keepFrom = history.lastIndex { $0.revision <= target } ?? 0
            var kept = Array(history[keepFrom...])
            if let first = kept.first, first.revision <= target, first.keyValue == nil { kept.removeFirst() }
            versions[key] = kept.isEmpty ? nil : kept
        }
        for (id, watcher) in watchers where watcher.next < target {
            watcher.continuation.finish(throwing: EtcdError(.compacted, "watch: required revision \(watcher.next) has been compacted (compacted revision \(target))"))
            watchers[id] = nil
        }
    }

    // MARK: - Leases

    package func grantLease(ttlSeconds: Int64) throws -> Lease {
        expireLeases()
        guard ttlSeconds > 0, ttlSeconds <= Lease.ttlSecondsMax else {
            throw EtcdError(.invalidArgument, "a lease TTL must be between 1 and \(Lease.ttlSecondsMax) seconds, not \(ttlSeconds)")
        }
        nextLeaseID += 1
        leases[nextLeaseID] = LeaseState(ttlSeconds: ttlSeconds, deadline: clock.elapsed + .seconds(ttlSeconds))
        return Lease(id: LeaseID(nextLeaseID), ttlSeconds: ttlSeconds)
    }

    package func revokeLease(_ id: LeaseID) throws {
        expireLeases()
        guard let lease = leases.removeValue(forKey: id.rawValue) else { throw EtcdError(.leaseNotFound, "revoke lease: requested lease \(id) not found") }
        deleteKeys(of: lease)
    }

    /// Renews `id` for its TTL from now; throws `.leaseExpired` when it expired or was revoked.
    package func renew(_ id: LeaseID) throws {
        expireLeases()
        guard leases[id.rawValue] != nil else { throw EtcdError(.leaseExpired, "lease \(id) has expired or was revoked") }
        leases[id.rawValue]!.deadline = clock.elapsed + .seconds(leases[id.rawValue]!.ttlSeconds)
    }

    /// Renews the lease every third of its TTL on the clock until cancelled or the lease is gone.
    package nonisolated func keepAlive(_ lease: Lease) async throws {
        while true {
            try await renew(lease.id)
            do {
                try await clock.sleep(for: .seconds(lease.ttlSeconds) / 3)
            } catch {
                return
            }
        }
    }

    /// Ends every lease whose deadline the clock has passed, deleting its keys (one revision per lease).
    package func expireLeases() {
        let now = clock.elapsed
        for id in leases.keys.sorted() where leases[id]!.deadline <= now {
            deleteKeys(of: leases.removeValue(forKey: id)!)
        }
    }

    // MARK: - Watches

    package nonisolated func watch(_ range: KeyRange, fromRevision: Int64?) -> AsyncThrowingStream<[WatchEvent], any Error> {
        let (events, continuation) = AsyncThrowingStream<[WatchEvent], any Error>.makeStream()
        let registration = Task { await self.addWatcher(range, from: fromRevision, continuation) }
        continuation.onTermination = { _ in
            Task {
                guard let id = await registration.value else { return }
                await self.removeWatcher(id)
            }
        }
        return events
    }

    private func addWatcher(_ range: KeyRange, from: Int64?, _ continuation: AsyncThrowingStream<[WatchEvent], any Error>.Continuation) -> Int? {
        expireLeases()
        let start = from.map { max($0, 1) } ?? revision + 1
        guard start >= compactedRevision else {
            continuation.finish(throwing: EtcdError(.compacted, "watch: required revision \(start) has been compacted (compacted revision \(compactedRevision))"))
            return nil
        }
        nextWatcherID += 1
        watchers[nextWatcherID] = Watcher(range: range, next: start, continuation: continuation)
        publish()
        return nextWatcherID
    }

    private func removeWatcher(_ id: Int) {
        watchers[id] = nil
    }

    /// Sends every watcher the changes from its next revision to the current one.
    private func publish() {
        for (id, watcher) in watchers where watcher.next <= revision {
            var byRevision: [Int64: [WatchEvent]] = [:]
            for (key, history) in versions where watcher.range.contains(key) {
                for version in history where version.revision >= watcher.next {
                    let event: WatchEvent
                    if let keyValue = version.keyValue {
                        event = WatchEvent(kind: .put, keyValue: keyValue)
                    } else {
                        event = WatchEvent(kind: .delete, keyValue: KeyValue(key: key, value: [], createRevision: 0, modRevision: version.revision, version: 0))
                    }
                    byRevision[version.revision, default: []].append(event)
                }
            }
            for revision in byRevision.keys.sorted() {
                watcher.continuation.yield(byRevision[revision]!.sorted { $0.key.lexicographicallyPrecedes($1.key) })
            }
            watchers[id]!.next = revision + 1
        }
    }

    // MARK: - The store

    private func current(_ key: [UInt8], at revision: Int64) -> KeyValue? {
        versions[key]?.last { $0.revision <= revision }?.keyValue
    }

    private func keyValues(in range: KeyRange, at revision: Int64) -> [KeyValue] {
        versions.keys.filter(range.contains).sorted { $0.lexicographicallyPrecedes($1) }.compactMap { current($0, at: revision) }
    }

    /// Applies a put at the current revision.
    private func apply(_ put: Operation) {
        guard case .put(let key, let value, let lease) = put else { return }
        let previous = current(key, at: revision)
        if let old = previous?.lease { leases[old.rawValue]?.keys.remove(key) }
        if let lease { leases[lease.rawValue]?.keys.insert(key) }
        let keyValue = KeyValue(
            key: key, value: value, createRevision: previous?.createRevision ?? revision, modRevision: revision,
            version: (previous?.version ?? 0) + 1, lease: lease)
        versions[key, default: []].append(Version(revision: revision, keyValue: keyValue))
    }

    /// Deletes the live keys of `range` as of revision `at`; returns how many there were.
    @discardableResult
    private func deleteKeys(in range: KeyRange, at deletion: Int64) -> Int {
        let doomed = keyValues(in: range, at: revision)
        for keyValue in doomed {
            if let lease = keyValue.lease { leases[lease.rawValue]?.keys.remove(keyValue.key) }
            versions[keyValue.key, default: []].append(Version(revision: deletion, keyValue: nil))
        }
        return doomed.count
    }

    private func deleteKeys(of lease: LeaseState) {
        let live = lease.keys.filter { current($0, at: revision) != nil }
        guard !live.isEmpty else { return }
        revision += 1
        for key in live.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            versions[key, default: []].append(Version(revision: revision, keyValue: nil))
        }
        publish()
    }

    private func checkLease(_ lease: LeaseID?) throws {
        guard let lease else { return }
        guard leases[lease.rawValue] != nil else { throw EtcdError(.leaseNotFound, "requested lease \(lease) not found") }
    }

    private func holds(_ comparison: Comparison) -> Bool {
        let keyValue = current(comparison.key, at: revision)
        func compare<T: Comparable>(_ actual: T, _ operand: T) -> Bool {
            switch comparison.relation {
            case .equal: actual == operand
            case .notEqual: actual != operand
            case .greater: actual > operand
            case .less: actual < operand
            }
        }
        switch comparison.field {
        case .value(let value):
            // etcd compares values of absent keys as false whatever the relation.
            guard let keyValue else { return false }
            return compare(keyValue.value.lexicographicallyPrecedes(value) ? -1 : (keyValue.value == value ? 0 : 1), 0)
        case .version(let version): return compare(keyValue?.version ?? 0, version)
        case .createRevision(let created): return compare(keyValue?.createRevision ?? 0, created)
        case .modRevision(let modified): return compare(keyValue?.modRevision ?? 0, modified)
        case .lease(let lease): return compare(keyValue?.lease?.rawValue ?? 0, lease?.rawValue ?? 0)
        }
    }
}

extension KeyRange {
    /// Whether `key` lies in the range.
    func contains(_ key: [UInt8]) -> Bool {
        let (start, end) = wireBounds
        if end.isEmpty { return key == start }
        guard !key.lexicographicallyPrecedes(start) else { return false }
        return end == [0] || key.lexicographicallyPrecedes(end)
    }
}
