import GRPCCore
import LedgerWire

extension EtcdClient {
    /// The key's current value and revisions, or `nil` when it does not exist.
    package func get(_ key: [UInt8]) async throws -> KeyValue? {
        let result = try await range(.key(key))
        return result.keyValues.first
    }

    /// The keys of `range`, in key order, at most `limit` of them (0: all).
    ///
    /// - Parameter revision: Read the store as it was at this revision (0: the newest). Reading a
    ///   compacted revision fails with `.compacted`.
    package func range(_ range: KeyRange, limit: Int64 = 0, revision: Int64 = 0) async throws -> RangeResult {
        var request = Etcdserverpb_RangeRequest.range(range, limit: limit)
        request.revision = revision
        let response = try await unary("range") { client, options in
            try await Etcdserverpb_KV.Client(wrapping: client).range(request, metadata: Self.requireLeader, options: options)
        }
        return RangeResult(response)
    }

    /// The keys that start with `prefix`, in key order, at most `limit` of them (0: all).
    package func range(prefix: [UInt8], limit: Int64 = 0) async throws -> RangeResult {
        try await range(.prefix(prefix), limit: limit)
    }

    /// The keys from `start` (inclusive) to `end` (exclusive), at most `limit` of them (0: all).
    package func range(from start: [UInt8], to end: [UInt8], limit: Int64 = 0) async throws -> RangeResult {
        try await range(.interval(from: start, to: end), limit: limit)
    }

    /// Writes `value` at `key`, attached to `lease` if one is given; returns the store revision of the write.
    @discardableResult
    package func put(_ key: [UInt8], _ value: [UInt8], lease: LeaseID? = nil) async throws -> Int64 {
        try checkKey(key)
        let request = Etcdserverpb_PutRequest.put(key: key, value: value, lease: lease)
        let response = try await unary("put") { client, options in
            try await Etcdserverpb_KV.Client(wrapping: client).put(request, metadata: Self.requireLeader, options: options)
        }
        return response.header.revision
    }

    /// Deletes the keys of `range`; returns how many there were.
    @discardableResult
    package func delete(_ range: KeyRange) async throws -> Int64 {
        let request = Etcdserverpb_DeleteRangeRequest.delete(range)
        let response = try await unary("delete") { client, options in
            try await Etcdserverpb_KV.Client(wrapping: client).deleteRange(request, metadata: Self.requireLeader, options: options)
        }
        return response.deleted
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

    /// Drops the history before `revision`: reads and watches of older revisions fail with `.compacted`
    /// afterwards. Compacting a revision already compacted fails with `.compacted` (which a compaction
    /// retried after a failover may also report, when its first attempt went through).
    ///
    /// - Parameter physical: Wait until the member has also removed the old data from its database.
    package func compact(revision: Int64, physical: Bool = false) async throws {
        var request = Etcdserverpb_CompactionRequest()
        request.revision = revision
        request.physical = physical
        _ = try await unary("compact") { client, options in
            try await Etcdserverpb_KV.Client(wrapping: client).compact(request, metadata: Self.requireLeader, options: options)
        }
    }

    /// What the member the client is connected to says about itself and the cluster.
    package func status() async throws -> MemberStatus {
        let response = try await unary("status") { client, options in
            try await Etcdserverpb_Maintenance.Client(wrapping: client).status(Etcdserverpb_StatusRequest(), options: options)
        }
        return MemberStatus(
            memberID: response.header.memberID,
            leaderID: response.leader,
            revision: response.header.revision,
            raftTerm: response.raftTerm,
            version: response.version
        )
    }

    func checkKey(_ key: [UInt8]) throws {
        guard !key.isEmpty else { throw EtcdError(.invalidArgument, "etcd keys cannot be empty") }
    }
}
