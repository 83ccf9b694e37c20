import BlockIntegrity
import EtcdClient
import Foundation
import Identity
import LedgerCore
import LedgerWire
import RPCTransport
import SwiftProtobuf
import Testing
import TestSupport
import WorldState

@testable import Orderer

/// Two `EtcdChain`s in this process over a real one-member etcd: one leads, the other follows the
/// log; when the leader's lease is revoked it stops cutting at once and the other takes over,
/// continuing the same chain.
@Suite(.serialized) struct EtcdChainTests {
    @Test func blockKeysSortInBlockOrderAndParseBack() {
        let keys = EtcdLogKeys(channel: "c", genesisHash: [0xab, 0x01, 0, 0, 0, 0, 0, 0, 0xff])
        #expect(String(decoding: keys.leader, as: UTF8.self) == "medrex/ordering/c/ab01000000000000/leader")
        let numbers: [UInt64] = [0, 1, 9, 10, 99, 100, 12_345, UInt64.max]
        let encoded = numbers.map { keys.block($0) }
        #expect(encoded == encoded.sorted { $0.lexicographicallyPrecedes($1) }, "key order is block order")
        #expect(encoded.map { keys.blockNumber(of: $0) } == numbers)
        #expect(encoded.allSatisfy { $0.lexicographicallyPrecedes(keys.blocksEnd) && keys.blocksPrefix.lexicographicallyPrecedes($0) })
        #expect(keys.blockNumber(of: keys.leader) == nil)
        #expect(keys.blockNumber(of: keys.persisted(by: "127.0.0.1:7050")) == nil)
        #expect(EtcdLogKeys(channel: "c", genesisHash: [1]).leader != EtcdLogKeys(channel: "c", genesisHash: [2]).leader)
    }

    /// Whoever can write to etcd cannot make an orderer store a block no orderer signed: a
    /// following orderer checks each block from the log as peers do (chain, data hash, orderer
    /// signatures under the BlockValidation policy) and stores nothing it refuses.
    @Test func blocksFromTheLogMustCarryAnOrdererSignature() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-etcdchain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let hospital = try TestPKI(mspID: "HospitalAMSP")
        let ordererOrg = try TestPKI(mspID: "OrdererMSP", domain: "orderer.test")
        let orderer = try ordererOrg.identity("orderer1", units: ["orderer"])
        let settings = ChannelOrderingSettings(
            channelID: "healthchannel", membership: MembershipRegistry([try hospital.msp(), try ordererOrg.msp()]),
            writers: try EndorsementPolicy.parse("'HospitalAMSP.member'"), readers: try EndorsementPolicy.parse("'HospitalAMSP.member'"),
            blockValidation: try EndorsementPolicy.parse("'OrdererMSP.orderer'"),
            batchLimits: BatchLimits(maxMessageCount: 5, absoluteMaxBytes: 64 * 1024, preferredMaxBytes: 32 * 1024),
            batchTimeout: .milliseconds(50))
        let ledger = try Ledger(directory: directory.appendingPathComponent("orderer0"))
        let genesis = Common_Block(number: 0, previousHash: [], envelopes: [Data([0])])
        try ledger.blockStore.append(genesis)
        // Not started: no etcd is dialled; the test hands blocks to the log follower directly.
        let tls = try EtcdCluster.standaloneTLS(in: directory, name: "unused")
        let chain = EtcdChain(
            settings: settings, genesisHash: genesis.header.hash, blockStore: ledger.blockStore,
            signer: try ordererOrg.identity("orderer0", units: ["orderer"]),
            etcd: try EtcdClient(endpoints: ["127.0.0.1:1"], tls: tls), member: "127.0.0.1:1",
            leaders: TLSLeaderConnections(tls: tls), timing: EtcdChainTiming(), clock: SystemClock(wallClock: { TestPKI.now }))

        func block(signedBy signer: SigningIdentity?) throws -> [UInt8] {
            var block = Common_Block(number: 1, previousHash: genesis.header.hash, envelopes: [Data([1, 2, 3])])
            if let signer { try block.signAsOrderer(signer, lastConfigIndex: 0, time: TestPKI.now, nonce: [7]) }
            return Array(try block.serializedData())
        }
        for forged in [try block(signedBy: nil), try block(signedBy: try hospital.identity("dr", units: ["client"]))] {
            let error = await #expect(throws: OrdererError.self) { try await chain.apply(forged, number: 1) }
            #expect(error?.code == .logInconsistent)
            #expect(ledger.blockStore.height == 1, "a block no orderer signed was stored")
        }
        try await chain.apply(try block(signedBy: orderer), number: 1)
        #expect(ledger.blockStore.height == 2)
    }

    @Test func leadershipMovesWhenTheLeaseIsLost() async throws {
        let cluster = try await EtcdCluster.start(members: 1)
        defer { cluster.stop() }
        let etcd = try EtcdClient(endpoints: cluster.endpoints, tls: cluster.clientTLS)
        let hospital = try TestPKI(mspID: "HospitalAMSP")
        let ordererOrg = try TestPKI(mspID: "OrdererMSP", domain: "orderer.test")
        let client = try hospital.identity("dr", units: ["client"])
        let settings = ChannelOrderingSettings(
            channelID: "healthchannel", membership: MembershipRegistry([try hospital.msp(), try ordererOrg.msp()]),
            writers: try EndorsementPolicy.parse("'HospitalAMSP.member'"), readers: try EndorsementPolicy.parse("'HospitalAMSP.member'"),
            blockValidation: try EndorsementPolicy.parse("'OrdererMSP.orderer'"),
            batchLimits: BatchLimits(maxMessageCount: 5, absoluteMaxBytes: 64 * 1024, preferredMaxBytes: 32 * 1024),
            batchTimeout: .milliseconds(50))
        let genesisHash = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-etcdchain-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let timing = EtcdChainTiming(leaseTTLSeconds: 2, leaderPollInterval: .milliseconds(100), compactionInterval: .seconds(1), forwardingAnswerMax: .seconds(1))
        // No gRPC server runs here: forwarding to the other chain fails and is answered SERVICE_UNAVAILABLE.
        let unusedTLS = MutualTLS(certificate: directory.appendingPathComponent("none.pem"), privateKey: directory.appendingPathComponent("none.key"), trustedCAs: [])
        let chains = try (0..<2).map { index in
            let ledger = try Ledger(directory: directory.appendingPathComponent("orderer\(index)"))
            return EtcdChain(
                settings: settings, genesisHash: genesisHash, blockStore: ledger.blockStore,
                signer: try ordererOrg.identity("orderer\(index)", units: ["orderer"]), etcd: etcd, member: "127.0.0.1:\(index + 1)",
                leaders: TLSLeaderConnections(tls: unusedTLS), timing: timing, clock: SystemClock(wallClock: { TestPKI.now }))
        }
        let running = chains.map { chain in Task { await chain.run() } }
        defer { for task in running { task.cancel() } }
        func envelope(_ index: Int) throws -> Common_Envelope {
            var builder = EndorserTransactionBuilder(
                channelID: "healthchannel", chaincodeName: "cc", creator: Data(client.serialized),
                nonce: Data((0..<24).map { _ in UInt8.random(in: 0...255) }), timestamp: TestPKI.now)
            var set = Kvrwset_KVRWSet()
            var write = Kvrwset_KVWrite()
            write.key = "k\(index)"
            write.value = Data(repeating: 1, count: 10)
            set.writes = [write]
            builder.readWriteSets = [("cc", set)]
            return try builder.envelope { Data(try client.sign($0)) }
        }
        func leaderIndex() async -> Int? {
            for (index, chain) in chains.enumerated() where await chain.isLeader { return index }
            return nil
        }
        func broadcast(_ range: Range<Int>, to chain: EtcdChain) async throws -> [(Data, BroadcastOutcome)] {
            let envelopes = try range.map { try envelope($0) }
            return try await withThrowingTaskGroup(of: (Data, BroadcastOutcome).self) { group in
                for envelope in envelopes { group.addTask { (try envelope.serializedData(), await chain.broadcast(envelope)) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }

        #expect(try await eventually(within: .seconds(10)) { await leaderIndex() != nil }, "no chain leads")
        let first = try #require(await leaderIndex())
        let follower = 1 - first
        var acknowledged = try await broadcast(0..<20, to: chains[first]).filter { $0.1 == .success }.map(\.0)
        #expect(acknowledged.count == 20)

        // The leader's lease goes away (as when etcd expires it): it must stop leading at once.
        let keys = EtcdLogKeys(channel: "healthchannel", genesisHash: genesisHash)
        let lease = try #require(try await etcd.get(keys.leader)?.lease)
        let heightBefore = await chains[first].height
        try await etcd.revokeLease(lease)
        // A block written under the lost lease is refused, even for a number not yet in the log.
        let stale = Common_Block(number: heightBefore + 100, previousHash: [1], envelopes: [])
        #expect(try await chains[first].append(stale, lease: lease) == false, "a stale leader appended")
        #expect(try await etcd.get(keys.block(heightBefore + 100)) == nil)
        let stepped = ContinuousClock.now
        #expect(try await eventually(within: .seconds(3)) { await !chains[first].isLeader }, "the leader kept leading without its lease")
        print("etcd chain: the leader stopped leading \(ContinuousClock.now - stepped) after its lease was revoked")
        #expect(try await eventually(within: .seconds(10)) { await leaderIndex() != nil }, "no chain took over")
        // Forwarded to a leader this test does not serve over gRPC: answered, not left waiting.
        let formerLeader = try #require(await leaderIndex()) == first ? follower : first
        let forwarded = await chains[formerLeader].broadcast(try envelope(100))
        #expect(forwarded.status == .serviceUnavailable)

        let second = try #require(await leaderIndex())
        acknowledged += try await broadcast(20..<40, to: chains[second]).filter { $0.1 == .success }.map(\.0)
        #expect(acknowledged.count == 40)

        // Both hold the same chain, every acknowledged envelope once, no gap.
        #expect(try await eventually(within: .seconds(10)) {
            let heights = [await chains[0].height, await chains[1].height]
            return heights[0] == heights[1] && heights[0] > 0
        })
        var hashes: [[[UInt8]]] = [[], []]
        var ordered: [Data] = []
        for (index, chain) in chains.enumerated() {
            for number in 0..<(await chain.height) {
                let block = try #require(try await chain.block(number, wait: false))
                #expect(block.header.number == number)
                if number > 0 { #expect(block.header.previousHash == Data(hashes[index].last!)) }
                hashes[index].append(block.header.hash)
                if index == 0 { ordered += block.data.data }
            }
        }
        #expect(hashes[0] == hashes[1])
        #expect(Set(ordered).count == ordered.count, "no envelope twice")
        #expect(Set(acknowledged).isSubset(of: Set(ordered)))

        for task in running { task.cancel() }
        for task in running { await task.value }
        await etcd.close()
    }
}
