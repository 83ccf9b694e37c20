import BlockIntegrity
import EtcdClient
import Foundation
import Identity
import LedgerCore
import LedgerWire
import Logging
import RPCTransport
import SwiftProtobuf
import WorldState
import NodeClients

/// The `etcd` ordering service of one channel: several orderers share an etcd cluster as the
/// replicated log of the channel's blocks and for leader election; there is no consensus
/// algorithm of our own.
///
/// - **Leader election.** An orderer leads while it holds the channel's leader key, created if
///   absent under a lease it keeps alive. When the lease is lost it stops cutting at once; the
///   envelopes it has not appended are answered SERVICE_UNAVAILABLE.
/// - **Leader.** It validates envelopes, cuts blocks (count, bytes, batch timeout), signs them and
///   appends block N to the log only if there is no block N yet and it still holds the leader key
///   (one etcd transaction). A broadcast answers SUCCESS once that append succeeded. A new leader
///   first catches up to the log's height and continues at the next height: no fork, no gap.
/// - **Followers** forward Broadcast to the leader (the leader key's value is its endpoint) over
///   mutual TLS and relay its answers; SERVICE_UNAVAILABLE while there is no leader.
/// - **Every orderer**, the leader too, follows the log from its own height (range reads, then a
///   watch), checks that block N chains onto block N-1, fsyncs it to its own block store and
///   serves Deliver from there.
/// - **Compaction.** Every orderer records its persisted height in etcd; the leader deletes the
///   blocks below the lowest recorded height (always keeping the newest block) and compacts etcd's
///   history. An orderer whose next block was compacted away fetches it from the leader's Deliver,
///   or logs why it cannot.
package actor EtcdChain: OrderingChain {
    /// The state of this orderer while it leads the channel.
    struct Leadership {
        /// Tells one leadership of this orderer from the next.
        let term: UInt64
        let lease: LeaseID
        /// The number of the next block to append to the log.
        var nextNumber: UInt64
        /// Header hash of the last block appended to the log.
        var lastHash: [UInt8]
        /// Validation, cutting and timers of this term: the front half every chain shares.
        var batcher: BlockBatcher
        /// Cut batches waiting to be appended, in order, with their broadcasters.
        var batches: [BlockBatcher.Batch] = []
        var appending = false
        /// Blocks below this number were deleted from the log in this term.
        var compactedBelow: UInt64 = 0
        /// The number of the last config block appended (what the next blocks' metadata names).
        var lastConfigNumber: UInt64
    }

    package static let consensusType = "etcd"
    /// The settings as of the last config block this orderer stored.
    package internal(set) var settings: ChannelOrderingSettings
    /// The number of that config block.
    var lastConfigNumber: UInt64
    /// This orderer's advertised endpoint: the leader key's value while it leads, and its name in
    /// the persisted heights.
    package nonisolated let member: String
    nonisolated let etcd: any EtcdKeyValueStore
    nonisolated let keys: EtcdLogKeys
    nonisolated let timing: EtcdChainTiming
    /// How this orderer reaches the leader (to forward Broadcast, and to fetch compacted blocks).
    nonisolated let leaders: any LeaderConnections
    /// Starts the append loop of a leadership term; a task of its own unless the simulation schedules it.
    nonisolated let spawn: @Sendable (@escaping @Sendable () async -> Void) -> Void
    nonisolated let signer: SigningIdentity
    nonisolated let logger: Logger
    /// Checks the blocks this orderer reads from the log (or fetches from the leader) before it stores them.
    var blockVerifier: BlockVerifier
    let blockStore: any BlockStorage
    nonisolated let clock: any LedgerClock
    let readers: ChainHeightWaiters
    let onBlockStored: @Sendable (Common_Block) -> Void
    let onLeadershipChange: @Sendable (Bool) -> Void

    /// The leader as the leader key last said; nil when there is none.
    var leaderEndpoint: String?
    var forwarder: (any LeaderLink)?
    var leadership: Leadership?
    var lastTerm: UInt64 = 0
    /// Set while the log holds a block this orderer cannot take (inconsistent, or compacted away
    /// and not fetchable): it does not contend for leadership then.
    var cannotCatchUp = false

    /// - Parameters:
    ///   - settings: The channel's settings as of its last config block, `lastConfigNumber`; blocks
    ///     are cut no larger than `EtcdChainTiming.blockBytesMax`.
    ///   - genesisHash: Header hash of the channel's genesis block: the chain's name in etcd.
    ///   - member: This orderer's advertised `host:port`.
    ///   - leaders: How this orderer reaches the leader (`TLSLeaderConnections` in a daemon).
    ///   - spawn: Starts background work (the append loop); by default a task of its own.
    package init(
        settings: ChannelOrderingSettings, lastConfigNumber: UInt64 = 0, genesisHash: [UInt8], blockStore: any BlockStorage, signer: SigningIdentity, etcd: any EtcdKeyValueStore, member: String,
        leaders: any LeaderConnections, timing: EtcdChainTiming = EtcdChainTiming(), clock: any LedgerClock = SystemClock(),
        spawn: @escaping @Sendable (@escaping @Sendable () async -> Void) -> Void = { work in Task { await work() } },
        logger: Logger = Logger(label: "medrex.orderer"), onBlockStored: @escaping @Sendable (Common_Block) -> Void = { _ in },
        onLeadershipChange: @escaping @Sendable (Bool) -> Void = { _ in }
    ) {
        self.onLeadershipChange = onLeadershipChange
        let effective = settings.capped(at: EtcdChainTiming.blockBytesMax - 16 * 1024)
        self.settings = effective
        self.lastConfigNumber = lastConfigNumber
        blockVerifier = BlockVerifier(membership: effective.membership, blockValidationPolicy: effective.blockValidation)
        self.blockStore = blockStore
        self.signer = signer
        self.etcd = etcd
        self.member = member
        self.leaders = leaders
        self.spawn = spawn
        self.timing = timing
        self.clock = clock
        self.logger = logger
        self.onBlockStored = onBlockStored
        keys = EtcdLogKeys(channel: settings.channelID, genesisHash: genesisHash)
        readers = ChainHeightWaiters(height: blockStore.height)
    }

    package var height: UInt64 { blockStore.height }

    /// Runs leader election, log following and height reporting until the task is cancelled; then
    /// gives up leadership (revoking the lease, so another orderer takes over at once).
    package func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.followLog() }
            group.addTask { await self.reportPersistedHeight() }
            group.addTask { await self.campaign() }
        }
        forwarder?.close()
        forwarder = nil
    }

    // MARK: - Broadcast

    /// Leader: validates and orders the envelope, answering once its block is in the log.
    /// Follower: relays the leader's answer.
    package func submit(_ envelope: Common_Envelope) -> BroadcastReceipt {
        guard let term = leadership?.term else { return forward(envelope) }
        let (receipt, batches, checks) = leadership!.batcher.accept(envelope, clock: clock)
        leadership!.batches += batches
        schedule(checks, term: term)
        startAppending()
        return receipt
    }

    private func forward(_ envelope: Common_Envelope) -> BroadcastReceipt {
        guard let forwarder else {
            let reason = leaderEndpoint == member ? "this orderer is taking over as leader" : "the channel has no leader at the moment"
            return BroadcastReceipt(BroadcastOutcome(status: .serviceUnavailable, info: "\(reason); try again shortly"))
        }
        return forwarder.forward(envelope)
    }

    // The leadership state is mutated in place (`leadership!.…`): copying it out and back would
    // copy the pending envelopes and receipts on every envelope.

    private func schedule(_ checks: [BlockBatcher.Check], term: UInt64) {
        for check in checks {
            clock.schedule(after: check.delay) { [weak self] in await self?.fire(check, term: term) }
        }
    }

    /// A batch timer or idle check of `term` fell due (a later term has a batcher of its own).
    private func fire(_ check: BlockBatcher.Check, term: UInt64) {
        guard leadership?.term == term else { return }
        let (batch, checks) = leadership!.batcher.fire(check, clock: clock)
        if let batch { leadership!.batches.append(batch) }
        schedule(checks, term: term)
        startAppending()
    }

    // MARK: - Appending to the log

    private func startAppending() {
        guard let term = leadership?.term, !leadership!.appending, !leadership!.batches.isEmpty else { return }
        leadership!.appending = true
        spawn { await self.appendBatches(term: term) }
    }

    /// Appends the cut batches one block at a time while this term lasts, answering each batch's
    /// broadcasters with the outcome of its append.
    private func appendBatches(term: UInt64) async {
        while leadership?.term == term, !leadership!.batches.isEmpty {
            let batch = leadership!.batches.removeFirst()
            let (envelopes, waiting) = (batch.envelopes, batch.receipts)
            let (number, previousHash, lease) = (leadership!.nextNumber, leadership!.lastHash, leadership!.lease)
            let lastConfig = batch.configuration == nil ? leadership!.lastConfigNumber : number
            // Reordered once, here, before the block is signed and appended: followers take the block as is.
            let ordered = settings.reordersByDependencies ? DependencyReordering.reorder(envelopes).envelopes : envelopes
            var block = Common_Block(number: number, previousHash: previousHash, envelopes: ordered)
            let outcome: BroadcastOutcome
            do {
                try block.signAsOrderer(signer, lastConfigIndex: lastConfig, time: clock.now, nonce: (0..<24).map { _ in UInt8.random(in: 0...255) })
                let appended = try await append(block, lease: lease)
                if appended {
                    if leadership?.term == term {
                        leadership!.nextNumber += 1
                        leadership!.lastHash = block.header.hash
                        leadership!.lastConfigNumber = lastConfig
                    }
                    outcome = .success
                } else {
                    logger.warning("block was not appended: this orderer no longer leads, or the log moved on", metadata: ["channel": "\(keys.channel)", "block": "\(block.header.number)"])
                    outcome = BroadcastOutcome(status: .serviceUnavailable, info: "the orderer lost its leadership before the block was appended; try again")
                    stepDown(term: term)
                }
            } catch {
                logger.error("block could not be appended to the etcd log", metadata: ["channel": "\(keys.channel)", "block": "\(block.header.number)", "error": "\(error)"])
                outcome = BroadcastOutcome(status: .serviceUnavailable, info: "the orderer could not append the block; the envelope \(OrderingOutcomeUnknown.marker)")
                stepDown(term: term)
            }
            for continuation in waiting { continuation.resume(returning: outcome) }
        }
        if leadership?.term == term { leadership!.appending = false }
    }

    /// Writes `block` as block N of the log if there is no block N yet and `lease` still holds the
    /// leader key. True when the block is in the log (also when an attempt that failed over had
    /// written it); false when the log refused it; throws when etcd could not be reached.
    nonisolated func append(_ block: Common_Block, lease: LeaseID) async throws -> Bool {
        let key = keys.block(block.header.number)
        let bytes = [UInt8](try block.serializedData())
        var attempt = 0
        while true {
            attempt += 1
            do {
                let result = try await etcd.transaction(
                    compare: [.absent(key), Comparison(key: keys.leader, .equal, .lease(lease))],
                    success: [.put(key: key, value: bytes)])
                if result.succeeded { return true }
                // An earlier attempt may have gone through before its member failed.
                return try await etcd.get(key)?.value == bytes
            } catch let error as EtcdError where (error.code == .timeout || error.code == .unavailable) && attempt < 3 {
                logger.warning("appending a block timed out; checking whether it went through", metadata: ["channel": "\(keys.channel)", "block": "\(block.header.number)", "error": "\(error)"])
            }
        }
    }

    // MARK: - Leadership transitions

    /// A new term number.
    package func beginTerm() -> UInt64 {
        lastTerm += 1
        return lastTerm
    }

    /// Starts leading at the local height, which the caller has caught up to the log's height.
    func becomeLeader(lease: LeaseID, term: UInt64) {
        forwarder?.close()
        forwarder = nil
        leaderEndpoint = member
        leadership = Leadership(
            term: term, lease: lease, nextNumber: blockStore.height, lastHash: blockStore.lastHeaderHash,
            batcher: BlockBatcher(settings: settings, signer: signer), lastConfigNumber: lastConfigNumber)
        onLeadershipChange(true)
        logger.notice("leading the channel", metadata: ["channel": "\(keys.channel)", "next block": "\(blockStore.height)"])
    }

    package func isLeading(term: UInt64) -> Bool { leadership?.term == term }

    /// Whether this orderer leads the channel now (and cuts blocks).
    package var isLeader: Bool { leadership != nil }

    /// Stops cutting at once: envelopes not yet being appended are answered SERVICE_UNAVAILABLE
    /// (the batch being appended is answered by its append).
    package func stepDown(term: UInt64) {
        guard let current = leadership, current.term == term else { return }
        leadership = nil
        leaderEndpoint = nil
        var batcher = current.batcher
        let refused = BroadcastOutcome(status: .serviceUnavailable, info: "the orderer stopped leading before ordering the envelope; try again")
        for receipt in batcher.abandon() { receipt.resume(returning: refused) }
        for batch in current.batches {
            for receipt in batch.receipts { receipt.resume(returning: refused) }
        }
        onLeadershipChange(false)
        logger.notice("stopped leading the channel", metadata: ["channel": "\(keys.channel)"])
    }

    /// Follows the leader the leader key names (nil: none): forwards Broadcast to it. A stream to
    /// the same leader that has stopped answering is replaced (its waiting envelopes get
    /// SERVICE_UNAVAILABLE), so that forwarded envelopes never wait without bound.
    func follow(leader endpoint: String?) {
        guard leadership == nil else { return }
        if endpoint == leaderEndpoint {
            guard let stalled = forwarder, stalled.isStalled(longerThan: timing.forwardingAnswerMax) else { return }
            logger.warning("the leader has not answered forwarded envelopes; reconnecting", metadata: [
                "channel": "\(keys.channel)", "leader": "\(stalled.leader)", "waited": "\(timing.forwardingAnswerMax)",
            ])
            forwarder = nil
            stalled.close()
            forwarder = leaders.link(to: stalled.leader)
            return
        }
        forwarder?.close()
        forwarder = nil
        leaderEndpoint = endpoint
        guard let endpoint, endpoint != member else { return }
        guard let address = NodeAddress(endpoint) else {
            logger.error("the leader key holds no host:port; cannot forward", metadata: ["channel": "\(keys.channel)"])
            return
        }
        forwarder = leaders.link(to: address)
        logger.info("following the leader", metadata: ["channel": "\(keys.channel)", "leader": "\(endpoint)"])
    }

    // MARK: - Deliver

    package func block(_ number: UInt64, wait: Bool) async throws -> Common_Block? {
        try await readers.block(number, wait: wait, in: blockStore)
    }

    package func stopServing() {
        readers.stop()
    }
}
