import BlockIntegrity
import BuiltInChaincodes
import Chaincode
import Endorser
import Foundation
import Identity
import LedgerCore
import LedgerWire
import Logging
import Orderer
import WorldState
import Committer

/// Logs of simulated nodes go nowhere: thousands of runs would drown the report.
let silentLogger = Logger(label: "medrex.simulation") { _ in SwiftLogNoOpLogHandler() }

/// What a channel of the simulation is made of, shared by its nodes.
struct SimulatedChannel: Sendable {
    let channelID: String
    let members: SimulatedMembers
    let clock: ManualClock
    let genesis: Common_Block
    let lifecyclePolicy: EndorsementPolicy
    let chaincodePolicy: EndorsementPolicy
    let blockValidationPolicy: EndorsementPolicy

    var applicationOrganizations: [String] { members.organizations.map(\.mspID) }
}

/// A peer (endorser and committer) with storage that outlives its crashes: the in-memory block
/// store keeps every block it acknowledged, the state keeps what was synchronized plus a prefix
/// of the rest. A crash drops the running components; a restart opens the ledger again (which
/// replays the blocks the state lost) and builds them anew, as a restarted process would.
final class SimulatedPeer {
    /// The components of one incarnation of the peer process.
    struct Running {
        let ledger: Ledger
        let committer: BlockCommitter
        let endorser: EndorsementService
    }

    let name: String
    let mspID: String
    let identity: SigningIdentity
    private let channel: SimulatedChannel
    let blockStore = InMemoryBlockStore()
    let state = InMemoryStateDatabase()
    private(set) var running: Running?

    init(name: String, mspID: String, identity: SigningIdentity, channel: SimulatedChannel) throws {
        self.name = name
        self.mspID = mspID
        self.identity = identity
        self.channel = channel
        var genesis = channel.genesis
        genesis.setValidationCodes(genesis.data.data.map { _ in .valid })
        try blockStore.append(genesis)
        try start()
    }

    var isRunning: Bool { running != nil }

    /// Starts a new incarnation over the stored blocks and state.
    func start() throws {
        let ledger = try Ledger(blockStore: blockStore, state: state, logger: silentLogger)
        let membership = channel.members.membership
        let validator = BlockValidator(
            channelID: channel.channelID, membership: membership, lifecyclePolicy: channel.lifecyclePolicy, defaultPolicy: channel.chaincodePolicy)
        let notifier = CommitNotifier(lookup: { txID in
            try ledger.committedTransaction(txID).map { CommitOutcome(blockNumber: $0.blockNumber, validationCode: $0.validationCode) }
        }, clock: channel.clock)
        let committer = BlockCommitter(
            channelID: channel.channelID, ledger: ledger,
            verifier: BlockVerifier(membership: membership, blockValidationPolicy: channel.blockValidationPolicy),
            validator: validator, notifier: notifier, signal: BlockHeightSignal(height: ledger.height), metrics: PeerMetrics(),
            clock: channel.clock, logger: silentLogger)
        var resources = ChannelEndorsementResources(
            state: ledger.state,
            history: { namespace, key in
                try ledger.history(namespace: namespace, key: key).map {
                    KeyModification(transactionID: $0.transactionID, blockNumber: $0.version.blockNumber, transactionNumber: $0.version.transactionNumber, value: $0.value)
                }
            },
            isCommitted: { txID in try ledger.blockStore.transactionLocation(txID) != nil },
            chaincodes: [
                NetworkSimulation.chaincode: ("1.0", AccountsContract()),
                ChaincodeDefinition.namespace: (ChaincodeDefinition.lifecycleVersion, LifecycleContract(organizations: channel.applicationOrganizations)),
            ])
        resources.membership = membership
        resources.writers = .or(channel.applicationOrganizations.map { .signedBy(PolicyPrincipal(mspID: $0, kind: .member)) })
        let clock = channel.clock
        let endorser = EndorsementService(
            signer: identity, membership: membership, channels: [channel.channelID: resources], clock: { clock.now })
        running = Running(ledger: ledger, committer: committer, endorser: endorser)
    }

    /// The process dies; the state keeps its synchronized part and `keeping` later blocks.
    func crash(keeping: Int) {
        running = nil
        state.crash(keeping: keeping)
    }

    var height: UInt64 { blockStore.height }
}
