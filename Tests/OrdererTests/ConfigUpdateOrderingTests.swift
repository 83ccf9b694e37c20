import BlockIntegrity
import EtcdClient
import Foundation
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig
import RPCTransport
import SwiftProtobuf
import Testing
import TestSupport
import WorldState

@testable import Orderer

/// A solo channel of the sample network whose configuration changes.
private struct ConfiguredChannel {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-config-ordering-\(UUID().uuidString)")
    let crypto: URL
    let config: ChannelConfig
    let ledger: Ledger
    let orderer: SigningIdentity

    init(consensus: String = "solo") throws {
        let text = try String(contentsOf: OrdererJoinTests.repository.appendingPathComponent("network-config/network.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "consensus: etcd", with: "consensus: \(consensus)")
        let network = try NetworkDescription.parse(yaml: text, file: "network.yaml")
        crypto = work.appendingPathComponent("crypto")
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: crypto, force: false)
        let genesis = try ChannelGenesis.makeBlock(network: network, channel: "healthchannel", crypto: crypto, timestamp: Date())
        config = try ChannelConfig(block: genesis)
        ledger = try Ledger(directory: work.appendingPathComponent("ledger"))
        try ledger.blockStore.append(genesis)
        orderer = try CryptoMaterialLoader.loadSigningIdentity(
            CryptoMaterialLayout(root: crypto, organization: "OrdererOrg").member(kind: .orderer, name: "orderer0").msp, mspID: "OrdererMSP")
    }

    func identity(_ organization: String, _ kind: CryptoMaterialLayout.MemberKind, _ name: String, _ mspID: String) throws -> SigningIdentity {
        try CryptoMaterialLoader.loadSigningIdentity(CryptoMaterialLayout(root: crypto, organization: organization).member(kind: kind, name: name).msp, mspID: mspID)
    }

    func chain(lastConfigNumber: UInt64 = 0, config: ChannelConfig? = nil) throws -> SoloChain {
        SoloChain(settings: try ChannelOrderingSettings(config: config ?? self.config), lastConfigNumber: lastConfigNumber, blockStore: ledger.blockStore, signer: orderer)
    }

    func transaction(_ index: Int) throws -> Common_Envelope {
        let client = try identity("HospitalA", .user, "dr-carter", "HospitalAMSP")
        var builder = EndorserTransactionBuilder(
            channelID: "healthchannel", chaincodeName: "cc", creator: Data(client.serialized),
            nonce: Data((0..<24).map { _ in UInt8.random(in: 0...255) }), timestamp: Date())
        var set = Kvrwset_KVRWSet()
        var write = Kvrwset_KVWrite()
        write.key = "k\(index)"
        write.value = Data("v".utf8)
        set.writes = [write]
        builder.readWriteSets = [("cc", set)]
        return try builder.envelope { payload in Data(try client.sign(payload)) }
    }

    /// A CONFIG_UPDATE that applies `edit` to `base`, signed by `signers`, submitted by the first.
    func update(_ edit: ChannelConfigEdit, from base: ChannelConfig? = nil, signedBy signers: [SigningIdentity]) throws -> Common_Envelope {
        let base = base ?? config
        var edited = base.config.channelGroup
        try edit.apply(to: &edited)
        let update = try ConfigUpdateBuilding.computeUpdate(channelID: "healthchannel", original: base.config.channelGroup, updated: edited)
        var envelope = Common_ConfigUpdateEnvelope()
        envelope.configUpdate = try update.serializedData()
        envelope.signatures = try signers.map { try ConfigUpdateBuilding.sign(envelope.configUpdate, as: $0) }
        return try ConfigUpdateBuilding.transaction(envelope, channelID: "healthchannel", submitter: signers[0], time: Date())
    }

    func remove() {
        try? ledger.close()
        try? FileManager.default.removeItem(at: work)
    }
}

@Suite struct ConfigUpdateOrderingTests {
    @Test func aConfigUpdateBecomesAConfigBlockOfItsOwnAndTheNewBatchSettingsApplyFromIt() async throws {
        let channel = try ConfiguredChannel()
        defer { channel.remove() }
        let chain = try channel.chain()
        let ordererAdmin = try channel.identity("OrdererOrg", .user, "admin", "OrdererMSP")
        // One envelope pending when the update arrives: it is cut into a block before the config block.
        let pendingEnvelope = try channel.transaction(0)
        async let pending = chain.broadcast(pendingEnvelope)
        try await Task.sleep(for: .milliseconds(20))
        let update = try channel.update(
            .setBatch(maxMessageCount: 2, absoluteMaxBytes: nil, preferredMaxBytes: nil, timeoutMilliseconds: 60_000), signedBy: [ordererAdmin])
        #expect(await chain.broadcast(update) == .success)
        let pendingOutcome = await pending
        #expect(pendingOutcome == .success)
        #expect(await chain.height == 3)
        let configBlock = try #require(try await chain.block(2, wait: false))
        #expect(configBlock.data.data.count == 1 && configBlock.holdsConfigTransaction)
        #expect(configBlock.lastConfigIndex == 2)
        #expect(try #require(try await chain.block(1, wait: false)).lastConfigIndex == 0)
        let next = try ChannelConfig(block: configBlock)
        #expect(next.batch.maxMessageCount == 2 && next.config.sequence == 1)
        #expect(await chain.settings.batchLimits.maxMessageCount == 2)
        // Two envelopes now make a block at once (the timeout is a minute), naming block 2 as the last config.
        let (envelope1, envelope2) = (try channel.transaction(1), try channel.transaction(2))
        async let first = chain.broadcast(envelope1)
        async let second = chain.broadcast(envelope2)
        let outcomes = await [first, second]
        #expect(outcomes == [.success, .success])
        let block3 = try #require(try await chain.block(3, wait: false))
        #expect(block3.data.data.count == 2 && block3.lastConfigIndex == 2)
        // A peer reads the same configuration from the ledger; a restarted orderer starts from it.
        let (latest, number) = try ChannelConfig.latest(height: channel.ledger.blockStore.height) { try channel.ledger.blockStore.block(number: $0) }
        #expect(number == 2 && latest.config == next.config)
        // Verified as a following orderer or a peer verifies it.
        let transaction = try TransactionEnvelope(serialized: configBlock.data.data[0])
        let verified = try ConfigUpdateProcessor(current: channel.config).verify(
            try ConfigUpdateProcessor.configEnvelope(of: transaction), at: transaction.channelHeader.timestamp.instant)
        #expect(verified.config == next.config)
    }

    @Test func refusedUpdatesChangeNothing() async throws {
        let channel = try ConfiguredChannel()
        defer { channel.remove() }
        let chain = try channel.chain()
        let adminA = try channel.identity("HospitalA", .user, "admin", "HospitalAMSP")
        // A hospital admin alone may not change the orderer's batch settings.
        let outcome = await chain.broadcast(
            try channel.update(.setBatch(maxMessageCount: 2, absoluteMaxBytes: nil, preferredMaxBytes: nil, timeoutMilliseconds: nil), signedBy: [adminA]))
        #expect(outcome.status == .badRequest)
        #expect(outcome.info.contains("mod_policy"))
        // An update whose creator is not a member of the channel is refused before it is read.
        let stranger = try TestPKI(mspID: "StrangerMSP").identity("admin", units: ["admin"])
        var envelope = Common_ConfigUpdateEnvelope()
        envelope.configUpdate = Data([1, 2, 3])
        let foreign = try ConfigUpdateBuilding.transaction(envelope, channelID: "healthchannel", submitter: stranger, time: Date())
        #expect(await chain.broadcast(foreign).status == .forbidden)
        // Garbage inside a well-signed CONFIG_UPDATE.
        let garbage = try ConfigUpdateBuilding.transaction(envelope, channelID: "healthchannel", submitter: adminA, time: Date())
        #expect(await chain.broadcast(garbage).status == .badRequest)
        #expect(await chain.height == 1)
        #expect(await chain.settings.batchLimits.maxMessageCount == channel.config.batch.maxMessageCount)
        // A chain made from settings without a configuration takes no updates.
        var bare = try ChannelOrderingSettings(config: channel.config)
        bare.config = nil
        let handMade = SoloChain(settings: bare, blockStore: channel.ledger.blockStore, signer: channel.orderer)
        let ordererAdmin = try channel.identity("OrdererOrg", .user, "admin", "OrdererMSP")
        let refused = await handMade.broadcast(
            try channel.update(.setBatch(maxMessageCount: 2, absoluteMaxBytes: nil, preferredMaxBytes: nil, timeoutMilliseconds: nil), signedBy: [ordererAdmin]))
        #expect(refused.status == .badRequest && refused.info.contains("no configuration updates"))
    }

    @Test func twoUpdatesMadeFromTheSameConfigurationOnlyTheFirstApplies() async throws {
        let channel = try ConfiguredChannel()
        defer { channel.remove() }
        let chain = try channel.chain()
        let ordererAdmin = try channel.identity("OrdererOrg", .user, "admin", "OrdererMSP")
        let first = try channel.update(.setBatch(maxMessageCount: 7, absoluteMaxBytes: nil, preferredMaxBytes: nil, timeoutMilliseconds: nil), signedBy: [ordererAdmin])
        let second = try channel.update(.setBatch(maxMessageCount: 9, absoluteMaxBytes: nil, preferredMaxBytes: nil, timeoutMilliseconds: nil), signedBy: [ordererAdmin])
        #expect(await chain.broadcast(first) == .success)
        let stale = await chain.broadcast(second)
        #expect(stale.status == .badRequest && stale.info.contains("version"))
        #expect(await chain.settings.batchLimits.maxMessageCount == 7)
        #expect(await chain.height == 2)
    }
}

/// Configuration updates on etcd orderers: wall-clock leases (like EtcdChainTests), so this suite
/// runs in the timed pass of scripts/test.sh.
@Suite struct EtcdConfigUpdateTests {
    /// Two etcd orderers (over the in-memory etcd): the leader cuts the config block, the
    /// follower verifies it and switches at it, and after a failover the new leader cuts blocks
    /// under the new configuration, naming the config block as the last config.
    @Test func etcdOrderersSwitchAtTheConfigBlockAndKeepItAcrossAFailover() async throws {
        let channel = try ConfiguredChannel(consensus: "etcd")
        defer { channel.remove() }
        let etcd = InMemoryEtcd(clock: SystemClock())
        // A lease long enough that a loaded machine's late renewals do not end a leadership.
        let timing = EtcdChainTiming(leaseTTLSeconds: 10, leaderPollInterval: .milliseconds(50), compactionInterval: .seconds(60), forwardingAnswerMax: .seconds(1))
        let unusedTLS = MutualTLS(certificate: channel.work.appendingPathComponent("none.pem"), privateKey: channel.work.appendingPathComponent("none.key"), trustedCAs: [])
        let genesis = try #require(try channel.ledger.blockStore.block(number: 0))
        var ledgers: [Ledger] = []
        defer { for ledger in ledgers { try? ledger.close() } }
        let chains = try (0..<2).map { index in
            let ledger = try Ledger(directory: channel.work.appendingPathComponent("orderer\(index)"))
            ledgers.append(ledger)
            try ledger.blockStore.append(genesis)
            return EtcdChain(
                settings: try ChannelOrderingSettings(config: channel.config), genesisHash: genesis.header.hash, blockStore: ledger.blockStore,
                signer: channel.orderer, etcd: etcd, member: "127.0.0.1:\(index + 1)", leaders: TLSLeaderConnections(tls: unusedTLS), timing: timing)
        }
        var running = chains.map { chain in Task { await chain.run() } }
        defer { for task in running { task.cancel() } }
        func leaderIndex() async -> Int? {
            for (index, chain) in chains.enumerated() where await chain.isLeader { return index }
            return nil
        }
        #expect(try await eventually(within: .seconds(30)) { await leaderIndex() != nil })
        let ordererAdmin = try channel.identity("OrdererOrg", .user, "admin", "OrdererMSP")
        let update = try channel.update(
            .setBatch(maxMessageCount: 2, absoluteMaxBytes: nil, preferredMaxBytes: nil, timeoutMilliseconds: 60_000), signedBy: [ordererAdmin])
        // To whichever orderer leads; again if a leadership change made it unavailable.
        var outcome = BroadcastOutcome(status: .serviceUnavailable, info: "")
        var leader = 0
        for _ in 0..<20 where outcome.status == .serviceUnavailable {
            guard let index = await leaderIndex() else { try await Task.sleep(for: .milliseconds(200)); continue }
            leader = index
            outcome = await chains[index].broadcast(update)
        }
        #expect(outcome == .success, "\(outcome)")
        let follower = 1 - leader
        #expect(try await eventually(within: .seconds(10)) { await chains[follower].height == 2 })
        #expect(await chains[follower].settings.batchLimits.maxMessageCount == 2)
        #expect(await chains[follower].settings.config?.config.sequence == 1)
        // The leader goes away; the follower takes over and cuts two envelopes into a block at once.
        running[leader].cancel()
        #expect(try await eventually(within: .seconds(30)) { await chains[follower].isLeader })
        let (first, second) = (try channel.transaction(1), try channel.transaction(2))
        async let a = chains[follower].broadcast(first)
        async let b = chains[follower].broadcast(second)
        let outcomes: [BroadcastOutcome] = await [a, b]
        #expect(outcomes == [.success, .success])
        #expect(try await eventually(within: .seconds(10)) { await chains[follower].height == 3 })
        let block = try #require(try await chains[follower].block(2, wait: false))
        #expect(block.data.data.count == 2 && block.lastConfigIndex == 1)
        running = []
    }
}
