import BuiltInChaincodes
import Endorser
import EtcdClient
import Foundation
import Identity
import LedgerCore
import LedgerWire
import Orderer
import Synchronization
import WorldState
import Committer

/// How big a simulated network is and how long it runs.
package struct SimulationOptions: Sendable, Hashable {
    package var organizations = 2
    package var peersPerOrganization = 2
    /// Scheduling steps of the faulty phase (each one event: a proposal, a delivery, a crash...).
    package var steps = 300
    /// Accounts of the `accounts` chaincode the clients move balances between (few: conflicts).
    package var accounts = 6
    /// Crashes, partitions, drops, duplicates, corrupted and out-of-order deliveries.
    package var faults = true
    /// One solo orderer, or `orderers` etcd-chain orderers sharing an in-memory etcd.
    package var ordering = SimulatedOrdering.solo
    package var orderers = 3

    package init() {}

    /// The `medrex simulate` arguments that give these options.
    package var arguments: String {
        "--organizations \(organizations) --peers-per-organization \(peersPerOrganization) --steps \(steps) --accounts \(accounts)"
            + (faults ? "" : " --no-faults") + (ordering == .etcd ? " --ordering etcd --orderers \(orderers)" : "")
    }
}

/// What one run did and every invariant it found broken.
package struct SimulationReport: Sendable, CustomStringConvertible {
    package let seed: UInt64
    package var violations: [String] = []
    package var blocks: UInt64 = 0
    package var proposed = 0
    package var endorsementsRefused = 0
    package var acknowledged = 0
    package var committedValid = 0
    package var codes: [String: Int] = [:]
    package var peerCrashes = 0
    /// Blocks of state that peers' crashes threw away (replayed from their blocks on restart).
    package var stateBlocksLost = 0
    package var ordererCrashes = 0
    /// etcd ordering: terms led, leaderships lost (lease not renewed, append refused), orderers cut off from etcd.
    package var leaderTerms = 0
    package var leadershipsLost = 0
    package var etcdPartitions = 0
    package var stalls = 0
    /// Envelopes in blocks that a leader whose term had ended (unknown to it) tried to append, and etcd refused.
    package var appendsRefused = 0
    package var partitions = 0
    package var dropped = 0
    package var duplicated = 0
    package var resent = 0
    package var refusedBlocks = 0
    package var repeatedBlocksSkipped = 0

    package var passed: Bool { violations.isEmpty }

    package var description: String {
        let codeList = codes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "seed \(seed): \(passed ? "ok" : "FAILED (\(violations.count) violations)"); \(blocks) blocks; \(proposed) proposed, "
            + "\(endorsementsRefused) refused at endorsement, \(acknowledged) acknowledged by the orderer, \(committedValid) VALID; codes: \(codeList); "
            + "faults: \(peerCrashes) peer crashes (\(stateBlocksLost) blocks of state lost), \(ordererCrashes) orderer crashes, \(leaderTerms) leader terms, \(leadershipsLost) leaderships lost, \(etcdPartitions) etcd partitions, \(stalls) orderer stalls, \(appendsRefused) envelopes of stale appends refused, \(partitions) partitions, \(dropped) dropped, "
            + "\(duplicated) duplicated, \(resent) resent, \(refusedBlocks) bad blocks refused, \(repeatedBlocksSkipped) repeated blocks skipped"
    }
}

/// A whole network in one process, on the stage seams (in-memory block stores and state that
/// lose their unsynchronized tail on a crash, a manual clock, blocks handed from the orderer's
/// store to the peers' committers, envelopes handed to the ordering chain), driven by one seeded
/// random source: the same seed makes the same run.
///
/// The run: set up the `accounts` chaincode through `_lifecycle` (approvals of every
/// organization, commit) and open the accounts; then `steps` random events (client transfers, and
/// blind writes, endorsed by one peer of each organization, deliveries to the orderer that may be dropped,
/// duplicated or reordered, clock advances that cut blocks, peers pulling blocks that may come
/// repeated, out of order or corrupted, crashes and restarts of peers and of the orderer,
/// partitions, state syncs, resends); then a healing phase in which every node runs and catches
/// up. Invariants are checked as blocks commit and at the end (see `checkFinalInvariants`).
package enum NetworkSimulation {
    static let chaincode = "accounts"
    static let channelID = "simchannel"
    static let initialBalance = 1000
    /// Accounts opened by blind writes during the run start here (apart from the conserved ones).
    static let blindWriteAccounts = 1_000_000

    package static func run(seed: UInt64, options: SimulationOptions = SimulationOptions()) async -> SimulationReport {
        do {
            let world = try World(seed: seed, options: options)
            return await world.run()
        } catch {
            var report = SimulationReport(seed: seed)
            report.violations.append("the network could not be set up: \(error)")
            return report
        }
    }

    /// The command that replays `seed` with `options`.
    package static func replayCommand(seed: UInt64, options: SimulationOptions) -> String {
        "scripts/simulate.sh --seed \(seed) \(options.arguments)"
    }

    /// Members are made once per process for each network shape (key generation is the slow part
    /// and changes no decision).
    static func members(organizations: Int, peersPerOrganization: Int) throws -> SimulatedMembers {
        let key = "\(organizations)x\(peersPerOrganization)"
        if let cached = memberCache.withLock({ $0[key] }) { return cached }
        let made = try SimulatedMembers(organizations: organizations, peersPerOrganization: peersPerOrganization)
        return memberCache.withLock { cache in
            if let cached = cache[key] { return cached }
            cache[key] = made
            return made
        }
    }

    private static let memberCache = Mutex<[String: SimulatedMembers]>([:])
}

/// One client envelope on its way to the orderer.
private struct EnvelopeInFlight {
    let envelope: Common_Envelope
    let transactionID: String
}

private final class World {
    let seed: UInt64
    let options: SimulationOptions
    var random: SimulationRandom
    let clock: ManualClock
    let channel: SimulatedChannel
    let orderers: [SimulatedOrderer]
    let peers: [SimulatedPeer]
    /// Background work of the orderers, run between events.
    let work: SimulatedWork
    let ordererNetwork: SimulatedOrdererNetwork
    var isEtcd: Bool { options.ordering == .etcd }
    let batchTimeout: Duration
    var report: SimulationReport

    /// Envelopes sent by clients, not yet handed to the orderer (delivered in random order).
    var network: [EnvelopeInFlight] = []
    /// Envelopes sent and not known to be committed: a client may send one again.
    var unconfirmed: [EnvelopeInFlight] = []
    /// Receipts of envelopes an orderer accepted, not yet resolved.
    var receipts: [(transactionID: String, orderer: Int, incarnation: Int, receipt: BroadcastReceipt)] = []
    /// Transactions the orderer acknowledged with SUCCESS: none may be lost.
    var acknowledged: Set<String> = []
    /// Steps left of each peer's partition (cut off from clients and the orderer).
    var partitionedUntil: [Int: Int] = [:]
    /// Steps left of each orderer's partition from etcd.
    var cutFromEtcdUntil: [Int: Int] = [:]
    /// Steps left of each orderer's stall (a paused process: no renewals, no elections), during
    /// which its lease may run out while it still takes itself for the leader.
    var stalledUntil: [Int: Int] = [:]
    /// Every block some orderer holds, as the first orderer to hold it had it: the others must match.
    var orderedBlocks: [UInt64: Common_Block] = [:]
    /// Heights up to which each orderer's blocks were compared with `orderedBlocks`.
    var ordererCheckedHeight: [Int: UInt64] = [:]
    var step = 0
    /// What the first peer to commit a block recorded, that every other peer must match.
    var agreedCodes: [UInt64: [Protos_TxValidationCode]] = [:]
    var agreedDigests: [UInt64: String] = [:]
    /// Where each transaction committed VALID: one block, whichever peer reports it.
    var validAt: [String: UInt64] = [:]
    /// The total balance once the accounts are open; transfers keep it.
    var conservedTotal: Int?

    init(seed: UInt64, options: SimulationOptions) throws {
        self.seed = seed
        self.options = options
        report = SimulationReport(seed: seed)
        random = SimulationRandom(seed: seed)
        clock = ManualClock(start: SimulatedMembers.start)
        let members = try NetworkSimulation.members(organizations: options.organizations, peersPerOrganization: options.peersPerOrganization)
        let organizations = members.organizations.map(\.mspID)
        let peerPrincipals = organizations.map { EndorsementPolicy.signedBy(PolicyPrincipal(mspID: $0, kind: .peer)) }
        var genesisEnvelope = Common_Envelope()
        var payload = Common_Payload()
        var header = Common_ChannelHeader()
        header.type = Int32(Common_HeaderType.config.rawValue)
        header.channelID = NetworkSimulation.channelID
        payload.header.channelHeader = try header.serializedData()
        genesisEnvelope.payload = try payload.serializedData()
        channel = SimulatedChannel(
            channelID: NetworkSimulation.channelID, members: members, clock: clock,
            genesis: Common_Block(number: 0, previousHash: [], envelopes: [try genesisEnvelope.serializedData()]),
            lifecyclePolicy: .outOf(count: organizations.count / 2 + 1, peerPrincipals),
            chaincodePolicy: .outOf(count: organizations.count / 2 + 1, peerPrincipals),
            blockValidationPolicy: .signedBy(PolicyPrincipal(mspID: "OrdererMSP", kind: .orderer)))
        // Per seed: how blocks are cut and whether the orderer reorders them by dependencies.
        batchTimeout = .milliseconds(Int.random(in: 50...400, using: &random))
        let limits = BatchLimits(maxMessageCount: Int.random(in: 1...6, using: &random), absoluteMaxBytes: 1 << 20, preferredMaxBytes: 512 * 1024)
        let reorders = random.chance(30)
        let work = SimulatedWork()
        let ordererNetwork = SimulatedOrdererNetwork(work: work)
        self.work = work
        self.ordererNetwork = ordererNetwork
        let etcd = options.ordering == .etcd ? InMemoryEtcd(clock: clock) : nil
        var orderers: [SimulatedOrderer] = []
        for index in 0..<(options.ordering == .etcd ? max(1, options.orderers) : 1) {
            orderers.append(try SimulatedOrderer(
                endpoint: "orderer\(index).sim:7050", channel: channel, batchLimits: limits, batchTimeout: batchTimeout, reorders: reorders, etcd: etcd,
                network: ordererNetwork, work: work))
        }
        self.orderers = orderers
        var peers: [SimulatedPeer] = []
        for organization in members.organizations {
            for (index, identity) in organization.peers.enumerated() {
                peers.append(try SimulatedPeer(name: "peer\(index).\(organization.mspID)", mspID: organization.mspID, identity: identity, channel: channel))
            }
        }
        self.peers = peers
    }

    func run() async -> SimulationReport {
        do {
            try await setUp()
            for current in 0..<options.steps {
                step = current
                try await nextEvent()
                collectReceipts()
                if report.violations.count > 20 { break }
            }
            try await heal()
            try checkFinalInvariants()
        } catch {
            report.violations.append("step \(step): the run stopped on an error: \(error)")
        }
        report.blocks = orderedHeight
        report.acknowledged = acknowledged.count
        return report
    }

    // MARK: - Set-up

    /// The chaincode definition through `_lifecycle` and the accounts, with no fault.
    private func setUp() async throws {
        let organizations = channel.members.organizations
        let policy = "AND(" + organizations.map { "'\($0.mspID).peer'" }.joined(separator: ",") + ")"
        let definition = [NetworkSimulation.chaincode, "1.0", "1", policy]
        for organization in organizations {
            try await setUpTransaction(chaincode: ChaincodeDefinition.namespace, ["approve"] + definition, signer: organization.admin)
        }
        try await setUpTransaction(chaincode: ChaincodeDefinition.namespace, ["commit"] + definition, signer: organizations[0].admin)
        try await setUpTransaction(
            chaincode: NetworkSimulation.chaincode, ["open", "0", String(options.accounts), String(NetworkSimulation.initialBalance)],
            signer: organizations[0].client)
        conservedTotal = options.accounts * NetworkSimulation.initialBalance
        for peer in peers { try checkConservation(peer) }
    }

    private func setUpTransaction(chaincode: String, _ arguments: [String], signer: SigningIdentity) async throws {
        let endorsers = channel.members.organizations.map { organization in peers.first { $0.mspID == organization.mspID }! }
        guard let (envelope, transactionID) = try endorse(chaincode: chaincode, arguments, signer: signer, at: endorsers) else {
            throw SimulationError("set-up transaction \(arguments[0]) was refused at endorsement")
        }
        guard let leader = try await electLeader() else { throw SimulationError("no orderer leads the channel during set-up") }
        let receipt = await leader.chain!.submit(envelope)
        await clock.advance(by: batchTimeout)
        await settle()
        guard receipt.resolvedOutcome == .success else { throw SimulationError("set-up transaction \(arguments[0]) was not ordered") }
        try await catchUpOrderers()
        for index in peers.indices { try await catchUp(index) }
        for peer in peers {
            let code = try peer.blockStore.transactionLocation(transactionID)?.validationCode
            guard code == .valid else { throw SimulationError("set-up transaction \(arguments[0]) committed \(code.map { "\($0)" } ?? "nowhere") on \(peer.name)") }
        }
    }

    // MARK: - Events

    private func nextEvent() async throws {
        let roll = Int.random(in: 0..<100, using: &random)
        switch roll {
        case 0..<28: try propose()
        case 28..<48: await deliverToOrderer()
        case 48..<62: await clock.advance(by: .milliseconds(Int.random(in: 1...300, using: &random)))
        case 62..<88: try await pull(Int.random(in: 0..<peers.count, using: &random))
        default:
            if options.faults { try await fault() } else { await clock.advance(by: .milliseconds(50)) }
        }
        if isEtcd, random.chance(30) {
            await housekeep(Int.random(in: 0..<orderers.count, using: &random), action: Int.random(in: 0..<5, using: &random))
        }
        await settle()
        try checkOrderers()
        for (peer, until) in partitionedUntil.sorted(by: { $0.key < $1.key }) where until <= step { partitionedUntil[peer] = nil }
        for (orderer, until) in stalledUntil.sorted(by: { $0.key < $1.key }) where until <= step { stalledUntil[orderer] = nil }
        for (orderer, until) in cutFromEtcdUntil.sorted(by: { $0.key < $1.key }) where until <= step {
            cutFromEtcdUntil[orderer] = nil
            orderers[orderer].etcd?.isCut = false
        }
    }

    private func reachable(_ index: Int) -> Bool { peers[index].isRunning && partitionedUntil[index] == nil }

    /// A client transfer, endorsed by a reachable peer of each organization (sometimes of one
    /// organization only: the policy then fails at validation).
    private func propose() throws {
        let organizations = channel.members.organizations
        let client = organizations[Int.random(in: 0..<organizations.count, using: &random)].client
        var endorsers: [SimulatedPeer] = []
        for organization in organizations {
            let candidates = peers.indices.filter { peers[$0].mspID == organization.mspID && reachable($0) }
            guard !candidates.isEmpty else { return }
            endorsers.append(peers[candidates[Int.random(in: 0..<candidates.count, using: &random)]])
        }
        if options.faults, random.chance(3) { endorsers = [endorsers[0]] }
        let arguments: [String]
        if random.chance(25) {
            // A blind write (no reads): a copy ordered again would not conflict, so only the
            // duplicate-txid rules keep it from being VALID twice.
            arguments = ["open", String(NetworkSimulation.blindWriteAccounts + Int.random(in: 0..<options.accounts, using: &random)), "1", String(Int.random(in: 1...9, using: &random))]
        } else {
            let from = Int.random(in: 0..<options.accounts, using: &random)
            let to = (from + Int.random(in: 1..<options.accounts, using: &random)) % options.accounts
            arguments = ["transfer", AccountsContract.key(from), AccountsContract.key(to), String(Int.random(in: 1...50, using: &random))]
        }
        report.proposed += 1
        guard let (envelope, transactionID) = try endorse(chaincode: NetworkSimulation.chaincode, arguments, signer: client, at: endorsers) else {
            report.endorsementsRefused += 1
            return
        }
        let sent = EnvelopeInFlight(envelope: envelope, transactionID: transactionID)
        network.append(sent)
        unconfirmed.append(sent)
    }

    /// Endorses and assembles a signed transaction; nil when an endorser refuses or the
    /// endorsers' results differ (peers at different heights read different versions).
    private func endorse(chaincode: String, _ arguments: [String], signer: SigningIdentity, at endorsers: [SimulatedPeer]) throws -> (Common_Envelope, String)? {
        let nonce = random.bytes(24)
        let proposal = try ProposalFactory.make(
            channel: channel.channelID, chaincode: chaincode, arguments: arguments, signer: signer, timestamp: clock.now, nonce: nonce)
        let responses = endorsers.map { $0.running!.endorser.processProposal(proposal) }
        guard responses.allSatisfy({ $0.response.status == 200 }) else { return nil }
        guard let payload = try? TransactionAssembler.payload(proposal: proposal, responses: responses) else { return nil }
        var envelope = Common_Envelope()
        envelope.payload = payload
        envelope.signature = Data(try signer.sign(payload))
        return (envelope, TransactionID.make(nonce: nonce, creator: signer.serialized))
    }

    /// Hands one envelope from the network to the orderer: any of those in flight (reordering),
    /// perhaps dropped or duplicated on the way.
    private func deliverToOrderer() async {
        guard !network.isEmpty else { return }
        let message = network.remove(at: Int.random(in: 0..<network.count, using: &random))
        if options.faults, random.chance(8) {
            report.dropped += 1
            return
        }
        if options.faults, random.chance(8) {
            network.append(message)
            report.duplicated += 1
        }
        let index = isEtcd ? Int.random(in: 0..<orderers.count, using: &random) : 0
        guard let chain = orderers[index].chain else {
            report.dropped += 1
            return
        }
        receipts.append((message.transactionID, index, orderers[index].incarnation, await chain.submit(message.envelope)))
    }

    /// Records the orderer's answers that have come.
    private func collectReceipts() {
        receipts.removeAll { entry in
            guard let outcome = entry.receipt.resolvedOutcome else { return false }
            if outcome.status == .success { acknowledged.insert(entry.transactionID) }
            if outcome.info.contains("lost its leadership before the block was appended") { report.appendsRefused += 1 }
            return true
        }
    }

    /// A peer asks for the blocks after its height; the answer may be a block it has, one
    /// further on, or damaged (each must change nothing), or up to three next blocks.
    private func pull(_ index: Int) async throws {
        guard reachable(index), let committer = peers[index].running?.committer else { return }
        let height = peers[index].height
        // The peer's Deliver source: the orderer (solo), or any running one (etcd).
        let running = orderers.filter(\.isRunning)
        guard !isEtcd || !running.isEmpty else { return }
        let orderer = isEtcd ? running[Int.random(in: 0..<running.count, using: &random)] : orderers[0]
        let available = orderer.blockStore.height
        if options.faults, random.chance(6), height > 0 {
            // A block the peer has (this orderer may be behind it: the peer got it from another).
            let old = orderedBlocks[UInt64.random(in: 0..<height, using: &random)]!
            try await expectUnchanged(index, by: old, refused: false)
            return
        }
        if options.faults, random.chance(5), available > height + 1 {
            let ahead = try orderer.blockStore.block(number: UInt64.random(in: (height + 1)..<available, using: &random))!
            try await expectUnchanged(index, by: ahead, refused: true)
            return
        }
        if options.faults, random.chance(3), available > height {
            var damaged = try orderer.blockStore.block(number: height)!
            damage(&damaged)
            try await expectUnchanged(index, by: damaged, refused: true)
            return
        }
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let next = peers[index].height
            guard next < orderer.blockStore.height, let block = try orderer.blockStore.block(number: next) else { return }
            do {
                try await committer.commitNext(block)
            } catch {
                report.violations.append("step \(step): \(peers[index].name) could not commit block \(next) from the orderer: \(error)")
                return
            }
            try checkCommitted(index, number: next)
        }
    }

    /// One of the ways a block can be damaged: a changed transaction, a changed data hash, a
    /// changed previous hash, a dropped signature.
    private func damage(_ block: inout Common_Block) {
        switch Int.random(in: 0..<4, using: &random) {
        case 0 where !block.data.data.isEmpty:
            let position = Int.random(in: 0..<block.data.data.count, using: &random)
            var bytes = [UInt8](block.data.data[position])
            if bytes.isEmpty { bytes = [0] }
            bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= 0x01
            block.data.data[position] = Data(bytes)
        case 1: block.header.dataHash = Data(random.bytes(32))
        case 2: block.header.previousHash = Data(random.bytes(32))
        default:
            if !block.metadata.metadata.isEmpty { block.metadata.metadata[0] = Data() } else { block.header.dataHash = Data(random.bytes(32)) }
        }
    }

    /// Hands a block that must not change the peer (`refused`: the committer must throw).
    private func expectUnchanged(_ index: Int, by block: Common_Block, refused: Bool) async throws {
        let peer = peers[index]
        let height = peer.height
        let digest = try digestOf(peer)
        var threw = false
        do {
            let committed = try await peer.running!.committer.commitNext(block)
            if committed { report.violations.append("step \(step): \(peer.name) committed block \(block.header.number) that it should have refused") }
        } catch {
            threw = true
        }
        if refused, !threw { report.violations.append("step \(step): \(peer.name) accepted a bad or out-of-order block \(block.header.number)") }
        if refused { report.refusedBlocks += 1 } else { report.repeatedBlocksSkipped += 1 }
        let digestAfter = try digestOf(peer)
        if peer.height != height || digestAfter != digest {
            report.violations.append("step \(step): \(peer.name) changed on a block it must ignore (block \(block.header.number))")
        }
    }

    private func fault() async throws {
        let index = Int.random(in: 0..<peers.count, using: &random)
        let peer = peers[index]
        switch Int.random(in: 0..<8, using: &random) {
        case 0, 1:
            if peer.isRunning {
                let unsynchronized = peer.state.unsynchronizedCount
                let kept = Int.random(in: 0...unsynchronized, using: &random)
                peer.crash(keeping: kept)
                report.stateBlocksLost += unsynchronized - kept
                report.peerCrashes += 1
            } else {
                try restart(peer)
            }
        case 2:
            let chosen = isEtcd ? Int.random(in: 0..<orderers.count, using: &random) : 0
            let orderer = orderers[chosen]
            if isEtcd, random.chance(25) {
                // The leader (if there is one) pauses for longer than its lease: meanwhile
                // another orderer may take over, and when it runs again it still takes itself
                // for the leader until its next renewal fails.
                let stalled = orderers.indices.first { orderers[$0].leadership != nil } ?? chosen
                if stalledUntil[stalled] == nil {
                    stalledUntil[stalled] = step + Int.random(in: 10...100, using: &random)
                    report.stalls += 1
                    await clock.advance(by: .seconds(SimulatedOrderer.timing.leaseTTLSeconds) + .milliseconds(Int.random(in: 0...1000, using: &random)))
                }
            } else if isEtcd, random.chance(40) {
                if cutFromEtcdUntil[chosen] == nil {
                    cutFromEtcdUntil[chosen] = step + Int.random(in: 5...60, using: &random)
                    orderer.etcd?.isCut = true
                    report.etcdPartitions += 1
                }
            } else if orderer.isRunning {
                orderer.crash()
                report.ordererCrashes += 1
            } else {
                orderer.start()
            }
        case 3:
            if partitionedUntil[index] == nil {
                partitionedUntil[index] = step + Int.random(in: 5...40, using: &random)
                report.partitions += 1
            }
        case 4:
            peer.state.synchronize()
        case 5:
            // A client that heard nothing sends its envelope again (as the gateway's submitter does).
            if !unconfirmed.isEmpty {
                network.append(unconfirmed[Int.random(in: 0..<unconfirmed.count, using: &random)])
                report.resent += 1
            }
        case 6:
            let orderer = orderers[isEtcd ? Int.random(in: 0..<orderers.count, using: &random) : 0]
            if !orderer.isRunning { orderer.start() }
        default:
            if !peer.isRunning { try restart(peer) }
        }
    }

    private func restart(_ peer: SimulatedPeer) throws {
        do {
            try peer.start()
        } catch {
            report.violations.append("step \(step): \(peer.name) could not restart: \(error)")
        }
    }

    // MARK: - Healing and invariants

    /// Every node runs again, every envelope in flight reaches an orderer, pending batches are
    /// cut, and every orderer and peer catches up.
    private func heal() async throws {
        step = options.steps
        partitionedUntil = [:]
        for index in cutFromEtcdUntil.keys { orderers[index].etcd?.isCut = false }
        cutFromEtcdUntil = [:]
        stalledUntil = [:]
        for peer in peers where !peer.isRunning { try restart(peer) }
        for orderer in orderers where !orderer.isRunning { orderer.start() }
        guard try await electLeader() != nil else {
            report.violations.append("end: no orderer leads the channel after healing")
            return
        }
        for message in network {
            let index = isEtcd ? Int.random(in: 0..<orderers.count, using: &random) : 0
            receipts.append((message.transactionID, index, orderers[index].incarnation, await orderers[index].chain!.submit(message.envelope)))
        }
        network = []
        await settle()
        for orderer in orderers { await renew(orderer) }
        await clock.advance(by: batchTimeout * 2)
        await settle()
        collectReceipts()
        // A crashed chain's receipts never resolve (those envelopes were never acknowledged);
        // the running chains must have answered every envelope they accepted.
        for entry in receipts where entry.incarnation == orderers[entry.orderer].incarnation {
            report.violations.append("end: \(orderers[entry.orderer].endpoint) accepted transaction \(entry.transactionID) but never answered it")
        }
        try await catchUpOrderers()
        try checkOrderers()
        for index in peers.indices where peers[index].isRunning { try await catchUp(index) }
    }

    /// Runs the orderers' queued background work and passes on the leaders' answers to followers,
    /// until neither is left (an answer may travel back over several forwarding orderers).
    private func settle() async {
        repeat { await work.drain() } while ordererNetwork.relayAnswers() > 0
    }

    /// The orderer that orders now: the solo orderer, or the etcd orderer that won the leader key
    /// after rounds of elections (time passing between them, so that the leases of crashed or
    /// cut-off leaders run out). Nil when none could lead.
    private func electLeader() async throws -> SimulatedOrderer? {
        guard isEtcd else { return orderers[0].isRunning ? orderers[0] : nil }
        for _ in 0..<40 {
            for index in orderers.indices { await housekeep(index, action: 0) }
            await settle()
            for orderer in orderers {
                if let leadership = orderer.leadership, let chain = orderer.etcdChain, await chain.isLeading(term: leadership.term) { return orderer }
            }
            await clock.advance(by: .milliseconds(500))
            await settle()
        }
        return nil
    }

    /// One step of an etcd orderer's own loops: an election round (or, for the leader, a lease
    /// renewal), a renewal, a catch-up with the log, a report of its height, or a compaction.
    /// The leader's loop ends, as `EtcdChain.lead` does, when an append was refused or no renewal
    /// got through for a whole TTL.
    private func housekeep(_ index: Int, action: Int) async {
        let orderer = orderers[index]
        guard let chain = orderer.etcdChain, stalledUntil[index] == nil else { return }
        if let leadership = orderer.leadership, await !chain.isLeading(term: leadership.term) {
            await resign(orderer)
        }
        switch action {
        case 0:
            guard orderer.leadership == nil else { return await renew(orderer) }
            guard let lease = try? await chain.electionRound() else { return }
            let term = await chain.beginTerm()
            do {
                try await chain.startLeading(lease: lease.id, term: term)
                orderer.leadership = SimulatedOrderer.Leadership(lease: lease, term: term, renewedAt: clock.elapsed)
                report.leaderTerms += 1
            } catch {
                await chain.resign(lease: lease.id, term: term)
            }
        case 1, 2:
            await renew(orderer)
        case 3:
            _ = try? await chain.catchUp()
        default:
            _ = try? await chain.reportPersistedHeight(unless: nil)
            if let leadership = orderer.leadership { try? await chain.compactLog(lease: leadership.lease.id, term: leadership.term) }
        }
    }

    /// The leader renews its lease; the leadership is lost when etcd says the lease is gone, or
    /// when no renewal got through for a TTL.
    private func renew(_ orderer: SimulatedOrderer) async {
        guard var leadership = orderer.leadership, let link = orderer.etcd else { return }
        do {
            try await link.renew(leadership.lease.id)
            leadership.renewedAt = clock.elapsed
            orderer.leadership = leadership
        } catch let error as EtcdError where error.code == .leaseExpired {
            await resign(orderer)
        } catch {
            if clock.elapsed - leadership.renewedAt >= .seconds(leadership.lease.ttlSeconds) { await resign(orderer) }
        }
    }

    private func resign(_ orderer: SimulatedOrderer) async {
        guard let leadership = orderer.leadership, let chain = orderer.etcdChain else { return }
        orderer.leadership = nil
        report.leadershipsLost += 1
        await chain.resign(lease: leadership.lease.id, term: leadership.term)
    }

    /// Every running etcd orderer reads the log up to its end.
    private func catchUpOrderers() async throws {
        for orderer in orderers {
            guard let chain = orderer.etcdChain else { continue }
            do {
                try await chain.catchUp()
            } catch {
                report.violations.append("step \(step): \(orderer.endpoint) could not catch up with the etcd log: \(error)")
            }
        }
    }

    /// No fork among orderers: every block an orderer holds equals the one every other orderer
    /// holds at that number.
    private func checkOrderers() throws {
        for (index, orderer) in orderers.enumerated() {
            let height = orderer.blockStore.height
            var number = ordererCheckedHeight[index] ?? 0
            while number < height {
                let block = try orderer.blockStore.block(number: number)!
                if let agreed = orderedBlocks[number] {
                    if agreed.header != block.header || agreed.data != block.data {
                        report.violations.append("step \(step): \(orderer.endpoint) holds a block \(number) that differs from another orderer's (fork)")
                    }
                } else {
                    orderedBlocks[number] = block
                }
                number += 1
            }
            ordererCheckedHeight[index] = height
        }
    }

    /// The height of the longest orderer chain.
    private var orderedHeight: UInt64 { orderers.map(\.blockStore.height).max() ?? 0 }

    private func catchUp(_ index: Int) async throws {
        let peer = peers[index]
        guard let committer = peer.running?.committer else { return }
        try checkOrderers()
        while peer.height < orderedHeight {
            let number = peer.height
            let block = orderedBlocks[number]!
            do {
                try await committer.commitNext(block)
            } catch {
                report.violations.append("step \(step): \(peer.name) could not commit block \(number) while catching up: \(error)")
                return
            }
            try checkCommitted(index, number: number)
        }
    }

    /// After a peer commits block `number`: it is the orderer's block (no fork), its codes and
    /// the state digest equal those of every other peer at that height, no transaction is VALID
    /// in two blocks, and the balances add up.
    private func checkCommitted(_ index: Int, number: UInt64) throws {
        let peer = peers[index]
        try checkOrderers()
        guard let block = try peer.blockStore.block(number: number), let ordered = orderedBlocks[number] else {
            report.violations.append("step \(step): \(peer.name) has no block \(number) after committing it")
            return
        }
        if block.header != ordered.header || block.data != ordered.data {
            report.violations.append("step \(step): \(peer.name) block \(number) differs from the orderers' (fork)")
        }
        let codes = block.transactionValidationCodes ?? []
        if let agreed = agreedCodes[number] {
            if agreed != codes { report.violations.append("step \(step): \(peer.name) validated block \(number) as \(codes), another peer as \(agreed)") }
        } else {
            agreedCodes[number] = codes
            for (position, code) in codes.enumerated() {
                report.codes["\(code)", default: 0] += 1
                if code == .valid { report.committedValid += 1 }
                guard code == .valid, let transaction = try? TransactionEnvelope(serialized: block.data.data[position]),
                    transaction.headerType == .endorserTransaction
                else { continue }
                let txID = transaction.channelHeader.txID
                if let first = validAt[txID], first != number {
                    report.violations.append("step \(step): transaction \(txID) is VALID in block \(first) and again in block \(number)")
                }
                validAt[txID] = validAt[txID] ?? number
                unconfirmed.removeAll { $0.transactionID == txID }
            }
        }
        // The state digest is compared only where the state is exactly as of this block.
        if try peer.state.savepoint() == number {
            let digest = try digestOf(peer)
            if let agreed = agreedDigests[number] {
                if agreed != digest { report.violations.append("step \(step): \(peer.name) state at block \(number) differs from another peer's") }
            } else {
                agreedDigests[number] = digest
            }
            try checkConservation(peer)
        }
    }

    private func digestOf(_ peer: SimulatedPeer) throws -> String {
        try StateDigest.compute(try peer.state.makeReader(), namespaces: [NetworkSimulation.chaincode, ChaincodeDefinition.namespace]).digest
    }

    private func checkConservation(_ peer: SimulatedPeer) throws {
        guard let total = conservedTotal else { return }
        let reader = try peer.state.makeReader()
        var sum = 0
        for account in 0..<options.accounts {
            guard let value = try reader.get(namespace: NetworkSimulation.chaincode, key: AccountsContract.key(account))?.value,
                let balance = Int(String(decoding: value, as: UTF8.self))
            else {
                report.violations.append("step \(step): \(peer.name) lost account \(account)")
                return
            }
            sum += balance
        }
        if sum != total { report.violations.append("step \(step): \(peer.name) balances add up to \(sum), not \(total)") }
    }

    /// At the end: every peer holds the orderer's chain with the same codes (byte-identical
    /// blocks) and the same state; every envelope the orderer acknowledged is in the chain; no
    /// transaction is VALID twice.
    private func checkFinalInvariants() throws {
        let height = orderedHeight
        for orderer in orderers where orderer.blockStore.height != height {
            report.violations.append("end: \(orderer.endpoint) is at height \(orderer.blockStore.height), another orderer at \(height)")
        }
        var orderedTransactions: Set<String> = []
        for number in 0..<height {
            let block = orderedBlocks[number]!
            for envelope in block.data.data {
                if let transaction = try? TransactionEnvelope(serialized: envelope) { orderedTransactions.insert(transaction.channelHeader.txID) }
            }
        }
        for txID in acknowledged.sorted() where !orderedTransactions.contains(txID) {
            report.violations.append("end: transaction \(txID) was acknowledged by the orderer but is in no block")
        }
        let reference = peers[0]
        for peer in peers {
            guard peer.height == height else {
                report.violations.append("end: \(peer.name) is at height \(peer.height), the orderers at \(height)")
                continue
            }
            for number in 0..<height {
                let mine = try peer.blockStore.block(number: number)!
                let theirs = try reference.blockStore.block(number: number)!
                if try mine.serializedData() != theirs.serializedData() {
                    report.violations.append("end: block \(number) of \(peer.name) differs from \(reference.name)'s")
                }
            }
            if try digestOf(peer) != (try digestOf(reference)) { report.violations.append("end: the state of \(peer.name) differs from \(reference.name)'s") }
            try checkConservation(peer)
        }
        var validCount: [String: Int] = [:]
        for number in 0..<reference.height {
            let block = try reference.blockStore.block(number: number)!
            let codes = block.transactionValidationCodes ?? []
            for (position, envelope) in block.data.data.enumerated() where codes[position] == .valid {
                if let transaction = try? TransactionEnvelope(serialized: envelope), transaction.headerType == .endorserTransaction {
                    validCount[transaction.channelHeader.txID, default: 0] += 1
                }
            }
        }
        for (txID, count) in validCount.sorted(by: { $0.key < $1.key }) where count > 1 {
            report.violations.append("end: transaction \(txID) is VALID \(count) times")
        }
    }
}

struct SimulationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
