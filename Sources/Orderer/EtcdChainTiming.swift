/// The timing of an etcd-ordered chain: how fast leadership fails over, and how often an orderer
/// reports its height and the leader compacts the log.
package struct EtcdChainTiming: Sendable, Hashable {
    /// The leader's lease: when the leader stops renewing it (crash, partition), another orderer
    /// may lead this long afterwards at the latest.
    package var leaseTTLSeconds: Int64
    /// How often a follower looks at the leader key (to learn the leader, or to campaign when none).
    package var leaderPollInterval: Duration
    /// How often an orderer records its persisted height in etcd.
    package var persistedHeightInterval: Duration
    /// The longest a follower lets forwarded envelopes wait for the leader's answers before it
    /// answers them SERVICE_UNAVAILABLE and reconnects.
    package var forwardingAnswerMax: Duration
    /// How often the leader deletes blocks every orderer has persisted and compacts etcd's history.
    package var compactionInterval: Duration
    /// Blocks read from etcd per range request while catching up: blocks are at most
    /// `blockBytesMax` (1 MiB), and a gRPC answer at most 4 MiB.
    package var catchUpPageBlocks: Int64

    package init(
        leaseTTLSeconds: Int64 = 3, leaderPollInterval: Duration = .milliseconds(200), persistedHeightInterval: Duration = .seconds(1),
        compactionInterval: Duration = .seconds(5), catchUpPageBlocks: Int64 = 3, forwardingAnswerMax: Duration = .seconds(10)
    ) {
        self.forwardingAnswerMax = forwardingAnswerMax
        precondition(leaseTTLSeconds >= 2 && catchUpPageBlocks >= 1, "leaseTTLSeconds >= 2 and catchUpPageBlocks >= 1")
        self.leaseTTLSeconds = leaseTTLSeconds
        self.leaderPollInterval = leaderPollInterval
        self.persistedHeightInterval = persistedHeightInterval
        self.compactionInterval = compactionInterval
        self.catchUpPageBlocks = catchUpPageBlocks
    }

    /// The same timing with a lease TTL of `seconds`.
    package func leasing(seconds: Int) -> EtcdChainTiming {
        var timing = self
        timing.leaseTTLSeconds = Int64(seconds)
        return timing
    }

    /// The largest block the leader writes to etcd, in bytes: etcd refuses requests over 1.5 MiB by
    /// default (`--max-request-bytes`), so an etcd channel cuts blocks no larger than this.
    package static let blockBytesMax = 1024 * 1024
}
