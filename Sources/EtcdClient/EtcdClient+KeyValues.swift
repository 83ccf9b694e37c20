import GRPCCore
import LedgerWire

extension EtcdClient {
    /// The keys of `range`, in key order, at most `limit` of them (0: all).
    ///
    /// - Parameter revision: Read the store as it was at this revision (0: the newest). Reading a
    ///   compacted revision fails with `.compacted`.
    package func range(_ range: KeyRange, limit: Int64, revision: Int64) async throws -> RangeResult {
        var request = Etcdserverpb_RangeRequest.range(range, limit: limit)
        request.revision = revision
        let response = try await unary("range") { client, options in
            try await Etcdserverpb_KV.Client(wrapping: client).range(request, metadata: Self.requireLeader, options: options)
        }
        return RangeResult(response)
    }

    /// Writes `value` at `key`, attached to `lease` if one is given; returns the store revision of the write.
    @discardableResult
    package func put(_ key: [UInt8], _ value: [UInt8], lease: LeaseID?) async throws -> Int64 {
        try EtcdKeyValueStoreRules.checkKey(key)
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

    /// Drops the history before `revision`: reads and watches of older revisions fail with `.compacted`
    /// afterwards. Compacting a revision already compacted fails with `.compacted` (which a compaction
    /// retried after a failover may also report, when its first attempt went through).
    ///
    /// - Parameter physical: Wait until the member has also removed the old data from its database.
    package func compact(revision: Int64, physical: Bool) async throws {
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
}
