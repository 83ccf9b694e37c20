/// What the etcd ordering chain needs from etcd: a revisioned key-value store with leases,
/// compare-and-swap transactions, compaction and watches, under etcd v3's contract.
///
/// `EtcdClient` is the real one (a cluster over mutual TLS); `InMemoryEtcd` keeps the same contract
/// in one process on an injected clock, for the simulation and fast tests. Both are held to the
/// shared `EtcdKeyValueStoreSuite`.
package protocol EtcdKeyValueStore: Sendable {
    /// The keys of `range`, in key order, at most `limit` of them (0: all).
    ///
    /// - Parameter revision: Read the store as it was at this revision (0: the newest). Reading a
    ///   compacted revision fails with `.compacted`.
    func range(_ range: KeyRange, limit: Int64, revision: Int64) async throws -> RangeResult

    /// Writes `value` at `key`, attached to `lease` if one is given; returns the store revision of the write.
    @discardableResult
    func put(_ key: [UInt8], _ value: [UInt8], lease: LeaseID?) async throws -> Int64

    /// Deletes the keys of `range`; returns how many there were.
    @discardableResult
    func delete(_ range: KeyRange) async throws -> Int64

    /// Applies `success` atomically if every comparison holds, and `failure` otherwise.
    func transaction(compare: [Comparison], success: [Operation], failure: [Operation]) async throws -> TransactionResult

    /// Drops the history before `revision`: reads and watches of older revisions fail with
    /// `.compacted` afterwards; compacting a revision already compacted fails with `.compacted`.
    func compact(revision: Int64, physical: Bool) async throws

    /// Grants a lease that expires unless renewed within `ttlSeconds`.
    func grantLease(ttlSeconds: Int64) async throws -> Lease

    /// Revokes the lease: the keys attached to it are deleted at once. An unknown (or already
    /// expired) lease fails with `.leaseNotFound`.
    func revokeLease(_ id: LeaseID) async throws

    /// Keeps `lease` alive until the calling task is cancelled (then it returns) or the lease is
    /// lost (then it throws `.leaseExpired`).
    func keepAlive(_ lease: Lease) async throws

    /// The changes to the keys of `range`, in revision order, one batch per store revision, from
    /// `fromRevision` (inclusive; nil: changes after the watch is set up). A compacted revision ends
    /// the stream with `.compacted`.
    func watch(_ range: KeyRange, fromRevision: Int64?) -> AsyncThrowingStream<[WatchEvent], any Error>
}

extension EtcdKeyValueStore {
    /// The key's current value and revisions, or `nil` when it does not exist.
    package func get(_ key: [UInt8]) async throws -> KeyValue? {
        try await range(.key(key), limit: 0, revision: 0).keyValues.first
    }

    package func range(_ range: KeyRange, limit: Int64 = 0) async throws -> RangeResult {
        try await self.range(range, limit: limit, revision: 0)
    }

    /// The keys that start with `prefix`, in key order, at most `limit` of them (0: all).
    package func range(prefix: [UInt8], limit: Int64 = 0) async throws -> RangeResult {
        try await range(.prefix(prefix), limit: limit, revision: 0)
    }

    /// The keys from `start` (inclusive) to `end` (exclusive), at most `limit` of them (0: all).
    package func range(from start: [UInt8], to end: [UInt8], limit: Int64 = 0) async throws -> RangeResult {
        try await range(.interval(from: start, to: end), limit: limit, revision: 0)
    }

    @discardableResult
    package func put(_ key: [UInt8], _ value: [UInt8]) async throws -> Int64 {
        try await put(key, value, lease: nil)
    }

    /// Deletes one key; returns whether it existed.
    @discardableResult
    package func delete(_ key: [UInt8]) async throws -> Bool {
        try await delete(.key(key)) > 0
    }

    /// Deletes every key that starts with `prefix`; returns how many there were.
    @discardableResult
    package func delete(prefix: [UInt8]) async throws -> Int64 {
        try await delete(.prefix(prefix))
    }

    package func transaction(compare: [Comparison], success: [Operation]) async throws -> TransactionResult {
        try await transaction(compare: compare, success: success, failure: [])
    }

    package func compact(revision: Int64) async throws {
        try await compact(revision: revision, physical: false)
    }

    /// Writes `value` at `key` only if the key does not exist; returns whether it was written.
    ///
    /// This is the "append block N only if there is no block N yet" and "become leader only if there
    /// is none" primitive. After a failover, `false` may mean that this caller's own earlier attempt
    /// wrote the key: read it back to tell.
    package func createIfAbsent(_ key: [UInt8], _ value: [UInt8], lease: LeaseID? = nil) async throws -> Bool {
        try EtcdKeyValueStoreRules.checkKey(key)
        let result = try await transaction(compare: [.absent(key)], success: [.put(key: key, value: value, lease: lease)], failure: [])
        return result.succeeded
    }

    package func watch(_ range: KeyRange) -> AsyncThrowingStream<[WatchEvent], any Error> {
        watch(range, fromRevision: nil)
    }

    /// The changes to the keys that start with `prefix`; see `watch(_:fromRevision:)`.
    package func watch(prefix: [UInt8], fromRevision: Int64? = nil) -> AsyncThrowingStream<[WatchEvent], any Error> {
        watch(.prefix(prefix), fromRevision: fromRevision)
    }
}

/// Checks both stores make before they send or apply a request.
enum EtcdKeyValueStoreRules {
    static func checkKey(_ key: [UInt8]) throws {
        guard !key.isEmpty else { throw EtcdError(.invalidArgument, "etcd keys cannot be empty") }
    }
}
