import EtcdClient
import Identity
import LedgerCore
import LedgerWire
import NodeClients
import Orderer
import RPCTransport
import Synchronization
import WorldState

/// How the simulated network orders: one solo orderer, or several etcd-chain orderers sharing an
/// in-memory etcd (the same compare-and-swap and lease contract as a real cluster).
package enum SimulatedOrdering: String, Sendable, Hashable, CaseIterable {
    case solo
    case etcd
}

/// Background work of the simulated orderers (the etcd chains' append loops and forwarded
/// envelopes), queued when started and run, in that order, when the simulation drains the queue
/// between two events: never concurrently with an event, so that a seed makes one run.
package final class SimulatedWork: Sendable {
    private struct Item {
        let owner: String
        let work: @Sendable () async -> Void
    }

    private let queue = Mutex<[Item]>([])

    package init() {}

    /// What a node with this owner name starts its background work with.
    package func spawner(owner: String) -> @Sendable (@escaping @Sendable () async -> Void) -> Void {
        { work in self.queue.withLock { $0.append(Item(owner: owner, work: work)) } }
    }

    /// A crashed node's work never runs.
    func drop(owner: String) {
        queue.withLock { $0.removeAll { $0.owner == owner } }
    }

    /// Runs the queued work, and the work it queues, until none is left.
    package func drain() async {
        while let next = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { await next.work() }
    }
}

/// An orderer's connection to the shared etcd, which a partition cuts: every request then fails
/// as unavailable, as a real client's would.
final class SimulatedEtcdLink: EtcdKeyValueStore {
    let etcd: InMemoryEtcd
    private let cut = Mutex(false)

    init(_ etcd: InMemoryEtcd) { self.etcd = etcd }

    var isCut: Bool {
        get { cut.withLock { $0 } }
        set { cut.withLock { $0 = newValue } }
    }

    private func reach() throws {
        if isCut { throw EtcdError(.unavailable, "the orderer is cut off from etcd (simulated partition)") }
    }

    func range(_ range: KeyRange, limit: Int64, revision: Int64) async throws -> RangeResult {
        try reach()
        return try await etcd.range(range, limit: limit, revision: revision)
    }

    func put(_ key: [UInt8], _ value: [UInt8], lease: LeaseID?) async throws -> Int64 {
        try reach()
        return try await etcd.put(key, value, lease: lease)
    }

    func delete(_ range: KeyRange) async throws -> Int64 {
        try reach()
        return await etcd.delete(range)
    }

    func transaction(compare: [Comparison], success: [Operation], failure: [Operation]) async throws -> TransactionResult {
        try reach()
        return try await etcd.transaction(compare: compare, success: success, failure: failure)
    }

    func compact(revision: Int64, physical: Bool) async throws {
        try reach()
        try await etcd.compact(revision: revision, physical: physical)
    }

    func grantLease(ttlSeconds: Int64) async throws -> Lease {
        try reach()
        return try await etcd.grantLease(ttlSeconds: ttlSeconds)
    }

    func revokeLease(_ id: LeaseID) async throws {
        try reach()
        try await etcd.revokeLease(id)
    }

    /// The simulation renews leases step by step (`renew`); a chain's own keep-alive is not run.
    func keepAlive(_ lease: Lease) async throws {
        try reach()
        try await etcd.keepAlive(lease)
    }

    func renew(_ id: LeaseID) async throws {
        try reach()
        try await etcd.renew(id)
    }

    func watch(_ range: KeyRange, fromRevision: Int64?) -> AsyncThrowingStream<[WatchEvent], any Error> {
        etcd.watch(range, fromRevision: fromRevision)
    }
}

/// The orderers as the etcd chains reach one another: forwarded envelopes are handed to the
/// leader's chain as simulated background work, and its answer relayed once it comes; when the
/// leader crashes, the envelopes waiting for its answer get the "may or may not have been
/// ordered" answer a broken stream gives.
package final class SimulatedOrdererNetwork: LeaderConnections {
    private struct Relay {
        let leader: String
        let incarnation: Int
        let answer: BroadcastReceipt
        let receipt: BroadcastReceipt
    }

    private let work: SimulatedWork
    /// The running chain of each orderer by its endpoint, with its incarnation.
    private let chains = Mutex<[String: (chain: any OrderingChain, incarnation: Int, blockStore: any BlockStorage)]>([:])
    private let relays = Mutex<[Relay]>([])

    package init(work: SimulatedWork) { self.work = work }

    package func started(_ endpoint: String, chain: any OrderingChain, incarnation: Int, blockStore: any BlockStorage) {
        chains.withLock { $0[endpoint] = (chain, incarnation, blockStore) }
    }

    /// The orderer at `endpoint` crashed: its answers will never come.
    package func crashed(_ endpoint: String) {
        chains.withLock { $0[endpoint] = nil }
        let orphaned = relays.withLock { relays -> [Relay] in
            let orphaned = relays.filter { $0.leader == endpoint }
            relays.removeAll { $0.leader == endpoint }
            return orphaned
        }
        for relay in orphaned {
            relay.receipt.resume(returning: BroadcastOutcome(
                status: .serviceUnavailable, info: "the leader \(endpoint) did not answer: the envelope \(OrderingOutcomeUnknown.marker) (stream broken)"))
        }
    }

    /// Passes on the leaders' answers that have come; returns how many.
    @discardableResult
    package func relayAnswers() -> Int {
        let answered = relays.withLock { relays -> [(Relay, BroadcastOutcome)] in
            var answered: [(Relay, BroadcastOutcome)] = []
            relays.removeAll { relay in
                guard let outcome = relay.answer.resolvedOutcome else { return false }
                answered.append((relay, outcome))
                return true
            }
            return answered
        }
        for (relay, outcome) in answered { relay.receipt.resume(returning: outcome) }
        return answered.count
    }

    package func link(to leader: NodeAddress) -> any LeaderLink {
        SimulatedLeaderLink(leader: leader, network: self)
    }

    func forward(_ envelope: Common_Envelope, to leader: NodeAddress, receipt: BroadcastReceipt) {
        work.spawner(owner: "network")({
            guard let target = self.chains.withLock({ $0[leader.description] }) else {
                receipt.resume(returning: BroadcastOutcome(status: .serviceUnavailable, info: "the envelope could not be sent to the leader \(leader); try again"))
                return
            }
            let answer = await target.chain.submit(envelope)
            self.relays.withLock { $0.append(Relay(leader: leader.description, incarnation: target.incarnation, answer: answer, receipt: receipt)) }
        })
    }

    package func blocks(of channel: String, from leader: NodeAddress, start: UInt64, stop: UInt64, signer: SigningIdentity) async throws
        -> (blocks: [Common_Block], status: Common_Status)
    {
        guard let target = chains.withLock({ $0[leader.description] }), start <= stop else {
            throw OrdererError(.unavailable, "no orderer answers at \(leader)")
        }
        var blocks: [Common_Block] = []
        for number in start...stop {
            guard let block = try target.blockStore.block(number: number) else { return (blocks, .notFound) }
            blocks.append(block)
        }
        return (blocks, .success)
    }
}

/// A follower's link to the leader in the simulation: forwarding never stalls (a broken stream is
/// the leader's crash, answered by `SimulatedOrdererNetwork.crashed`).
final class SimulatedLeaderLink: LeaderLink {
    let leader: NodeAddress
    private let network: SimulatedOrdererNetwork

    init(leader: NodeAddress, network: SimulatedOrdererNetwork) {
        self.leader = leader
        self.network = network
    }

    func forward(_ envelope: Common_Envelope) -> BroadcastReceipt {
        let receipt = BroadcastReceipt()
        network.forward(envelope, to: leader, receipt: receipt)
        return receipt
    }

    func isStalled(longerThan limit: Duration) -> Bool { false }

    func close() {}
}

/// An orderer: its block store outlives crashes; a crash loses the batch being collected (those
/// envelopes were never acknowledged), the timers and background work of the dead chain and, for
/// an etcd orderer, the leadership it held (its lease runs out unrenewed).
final class SimulatedOrderer {
    /// What an etcd orderer leads under, as its `lead` loop would hold it.
    struct Leadership {
        let lease: Lease
        let term: UInt64
        var renewedAt: Duration
    }

    let endpoint: String
    let blockStore = InMemoryBlockStore()
    private let settings: ChannelOrderingSettings
    private let signer: SigningIdentity
    private let clock: ManualClock
    private let genesisHash: [UInt8]
    /// Set for an etcd orderer.
    let etcd: SimulatedEtcdLink?
    private let network: SimulatedOrdererNetwork
    private let work: SimulatedWork
    private(set) var chain: (any OrderingChain)?
    /// Counts the orderer's starts: receipts of a crashed incarnation never resolve.
    private(set) var incarnation = 0
    var leadership: Leadership?

    static let timing = EtcdChainTiming(leaseTTLSeconds: 3, compactionInterval: .seconds(2), catchUpPageBlocks: 3)

    init(
        endpoint: String, channel: SimulatedChannel, batchLimits: BatchLimits, batchTimeout: Duration, reorders: Bool, etcd: InMemoryEtcd?,
        network: SimulatedOrdererNetwork, work: SimulatedWork
    ) throws {
        self.endpoint = endpoint
        let members = channel.members
        var settings = ChannelOrderingSettings(
            channelID: channel.channelID, membership: members.membership,
            writers: .or(channel.applicationOrganizations.map { .signedBy(PolicyPrincipal(mspID: $0, kind: .member)) }),
            readers: .or((channel.applicationOrganizations + ["OrdererMSP"]).map { .signedBy(PolicyPrincipal(mspID: $0, kind: .member)) }),
            blockValidation: channel.blockValidationPolicy, batchLimits: batchLimits, batchTimeout: batchTimeout)
        settings.reordersByDependencies = reorders
        self.settings = settings
        signer = members.orderer
        clock = channel.clock
        genesisHash = channel.genesis.header.hash
        self.etcd = etcd.map(SimulatedEtcdLink.init)
        self.network = network
        self.work = work
        try blockStore.append(channel.genesis)
        start()
    }

    var isRunning: Bool { chain != nil }
    var etcdChain: EtcdChain? { chain as? EtcdChain }
    private var owner: String { "\(endpoint)#\(incarnation)" }

    func start() {
        incarnation += 1
        leadership = nil
        let made: any OrderingChain
        if let etcd {
            made = EtcdChain(
                settings: settings, genesisHash: genesisHash, blockStore: blockStore, signer: signer, etcd: etcd, member: endpoint, leaders: network,
                timing: Self.timing, clock: clock, spawn: work.spawner(owner: owner), logger: silentLogger)
        } else {
            made = SoloChain(settings: settings, blockStore: blockStore, signer: signer, clock: clock, logger: silentLogger)
        }
        chain = made
        network.started(endpoint, chain: made, incarnation: incarnation, blockStore: blockStore)
    }

    /// The process dies: the chain, its pending batch and its background work are gone (its
    /// timers find no chain); a lease it held is left to expire.
    func crash() {
        work.drop(owner: owner)
        network.crashed(endpoint)
        chain = nil
        leadership = nil
    }
}
