import LedgerWire

/// A lease's id, as etcd assigns it.
package struct LeaseID: Sendable, Hashable, CustomStringConvertible {
    package let rawValue: Int64

    package init(_ rawValue: Int64) { self.rawValue = rawValue }

    package var description: String { String(UInt64(bitPattern: rawValue), radix: 16) }
}

/// A granted lease: its id and the time to live etcd granted.
package struct Lease: Sendable, Hashable {
    package let id: LeaseID
    /// Keys attached to the lease are deleted when it is not renewed within this many seconds.
    package let ttlSeconds: Int64
    /// Longest TTL etcd grants (its `MaxLeaseTTL`, 9,000,000,000 s); a response with more is
    /// malformed (and would overflow deadline arithmetic).
    package static let ttlSecondsMax: Int64 = 9_000_000_000

    /// A lease known by id (one granted earlier, say) with the TTL it was granted.
    package init(id: LeaseID, ttlSeconds: Int64) {
        self.id = id
        self.ttlSeconds = ttlSeconds
    }
}

/// One key as etcd stores it, with the revisions that say when it was written.
package struct KeyValue: Sendable, Hashable {
    package var key: [UInt8]
    package var value: [UInt8]
    /// The store revision that created the key (since it was last deleted).
    package var createRevision: Int64
    /// The store revision of the key's last change (for a delete event: the deleting revision).
    package var modRevision: Int64
    /// How many times the key was written since it was created.
    package var version: Int64
    /// The lease the key is attached to, if any.
    package var lease: LeaseID?

    package init(key: [UInt8], value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: LeaseID? = nil) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }

    init(_ wire: Mvccpb_KeyValue) {
        self.init(
            key: Array(wire.key),
            value: Array(wire.value),
            createRevision: wire.createRevision,
            modRevision: wire.modRevision,
            version: wire.version,
            lease: wire.lease == 0 ? nil : LeaseID(wire.lease)
        )
    }
}

/// The keys a range read found, and the store revision it read.
package struct RangeResult: Sendable, Hashable {
    /// The keys found, in key order, at most `limit` of them.
    package var keyValues: [KeyValue]
    /// Whether the limit left keys of the range out.
    package var more: Bool
    /// How many keys the range holds, whatever the limit.
    package var count: Int64
    /// The store revision the read saw (the header revision).
    package var revision: Int64

    init(keyValues: [KeyValue], more: Bool, count: Int64, revision: Int64) {
        self.keyValues = keyValues
        self.more = more
        self.count = count
        self.revision = revision
    }

    init(_ wire: Etcdserverpb_RangeResponse) {
        keyValues = wire.kvs.map(KeyValue.init)
        more = wire.more
        count = wire.count
        revision = wire.header.revision
    }
}

/// What one member says about itself and the cluster.
package struct MemberStatus: Sendable, Hashable {
    /// The answering member's id.
    package var memberID: UInt64
    /// The leader's member id as the member sees it (0 when it knows of none).
    package var leaderID: UInt64
    /// The store revision on the member.
    package var revision: Int64
    package var raftTerm: UInt64
    /// The member's etcd version.
    package var version: String

    /// Whether the answering member is the leader.
    package var isLeader: Bool { leaderID != 0 && leaderID == memberID }
}
