import BlockIntegrity
import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import Testing
import TestSupport
import WorldState
import Committer
import GatewayService
import NodeClients
import PeerDaemon
import PhiService

@testable import Orderer

/// A solo orderer for channel `healthchannel` whose members are HospitalA's identities.
struct SoloFixture {
    let hospital: TestPKI
    let ordererOrg: TestPKI
    let orderer: SigningIdentity
    let client: SigningIdentity
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-solo-\(UUID().uuidString)")
    let ledger: Ledger
    let chain: SoloChain

    init(
        maxMessageCount: Int = 10, preferredMaxBytes: Int = 32 * 1024, timeout: Duration = .milliseconds(100), idleTimeout: Duration? = nil,
        reorders: Bool = false, clock: (any LedgerClock)? = nil
    ) throws {
        hospital = try TestPKI(mspID: "HospitalAMSP")
        ordererOrg = try TestPKI(mspID: "OrdererMSP", domain: "orderer.test")
        orderer = try ordererOrg.identity("orderer0", units: ["orderer"])
        client = try hospital.identity("dr", units: ["client"])
        ledger = try Ledger(directory: directory)
        var settings = ChannelOrderingSettings(
            channelID: "healthchannel", membership: MembershipRegistry([try hospital.msp()]),
            writers: try EndorsementPolicy.parse("'HospitalAMSP.member'"), readers: try EndorsementPolicy.parse("'HospitalAMSP.member'"),
            blockValidation: try EndorsementPolicy.parse("'OrdererMSP.orderer'"),
            batchLimits: BatchLimits(maxMessageCount: maxMessageCount, absoluteMaxBytes: 64 * 1024, preferredMaxBytes: preferredMaxBytes),
            batchTimeout: timeout)
        settings.batchIdleTimeout = idleTimeout
        settings.reordersByDependencies = reorders
        chain = SoloChain(settings: settings, blockStore: ledger.blockStore, signer: orderer, clock: clock ?? SystemClock(wallClock: { TestPKI.now }))
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }

    func envelope(_ index: Int, signer: SigningIdentity? = nil, channel: String = "healthchannel", valueBytes: Int = 10) throws -> Common_Envelope {
        let signer = signer ?? client
        var builder = EndorserTransactionBuilder(
            channelID: channel, chaincodeName: "cc", creator: Data(signer.serialized),
            nonce: Data((0..<24).map { _ in UInt8.random(in: 0...255) }), timestamp: TestPKI.now)
        var set = Kvrwset_KVRWSet()
        var write = Kvrwset_KVWrite()
        write.key = "k\(index)"
        write.value = Data(repeating: 1, count: valueBytes)
        set.writes = [write]
        builder.readWriteSets = [("cc", set)]
        return try builder.envelope { payload in Data(try signer.sign(payload)) }
    }

    /// Every block, verified as a peer would: orderer signature, hash chain, data hash.
    func verifiedBlocks() async throws -> [Common_Block] {
        let verifier = BlockVerifier(membership: MembershipRegistry([try ordererOrg.msp()]), blockValidationPolicy: try EndorsementPolicy.parse("'OrdererMSP.orderer'"))
        var blocks: [Common_Block] = []
        var previousHash: [UInt8] = []
        for number in 0..<(await chain.height) {
            let block = try #require(try await chain.block(number, wait: false))
            _ = try verifier.verify(block, expectedNumber: number, previousHeaderHash: previousHash, at: TestPKI.now)
            previousHash = block.header.hash
            blocks.append(block)
        }
        return blocks
    }
}

@Suite struct SoloChainTests {
    @Test func ordersConcurrentBroadcastsIntoSignedChainedBlocks() async throws {
        let fixture = try SoloFixture(maxMessageCount: 10)
        defer { fixture.cleanUp() }
        let envelopes = try (0..<100).map { try fixture.envelope($0) }
        let outcomes = await withTaskGroup(of: BroadcastOutcome.self) { group in
            for client in 0..<4 {
                group.addTask {
                    var last = BroadcastOutcome.success
                    for index in stride(from: client, to: envelopes.count, by: 4) {
                        let outcome = await fixture.chain.broadcast(envelopes[index])
                        if outcome != .success { last = outcome }
                    }
                    return last
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.allSatisfy { $0 == .success })
        let blocks = try await fixture.verifiedBlocks()
        let ordered = blocks.flatMap(\.data.data)
        #expect(ordered.count == 100)
        #expect(Set(ordered) == Set(try envelopes.map { try $0.serializedData() }), "every envelope exactly once")
        #expect(blocks.allSatisfy { $0.data.data.count <= 10 })
    }

    /// On the manual clock: the partial batch is cut exactly when the batch timeout has passed
    /// since its first envelope, and only then are its envelopes acknowledged.
    @Test func cutsAPartialBatchAtTheTimeout() async throws {
        let clock = ManualClock(start: TestPKI.now)
        let fixture = try SoloFixture(maxMessageCount: 10, timeout: .milliseconds(150), clock: clock)
        defer { fixture.cleanUp() }
        var receipts: [BroadcastReceipt] = []
        for index in 0..<3 {
            receipts.append(await fixture.chain.submit(try fixture.envelope(index)))
            await clock.advance(by: .milliseconds(40))
        }
        await clock.advance(by: .milliseconds(29))
        #expect(await fixture.chain.height == 0, "149 ms after the first envelope: not cut yet")
        await clock.advance(by: .milliseconds(1))
        #expect(await fixture.chain.height == 1)
        for receipt in receipts { #expect(await receipt.outcome == .success) }
        let blocks = try await fixture.verifiedBlocks()
        #expect(blocks.map(\.data.data.count) == [3])
        // The next batch's timer starts with its own first envelope.
        let late = await fixture.chain.submit(try fixture.envelope(3))
        await clock.advance(by: .milliseconds(149))
        #expect(await fixture.chain.height == 1)
        await clock.advance(by: .milliseconds(1))
        #expect(await late.outcome == .success)
        #expect(await fixture.chain.height == 2)
    }

    /// On the manual clock: a batch is cut once no envelope arrived for the idle timeout, long
    /// before the batch timeout; an arrival within the idle time moves the cut.
    @Test func cutsAPartialBatchWhenArrivalsPauseForTheIdleTimeout() async throws {
        let clock = ManualClock(start: TestPKI.now)
        let fixture = try SoloFixture(maxMessageCount: 10, timeout: .seconds(5), idleTimeout: .milliseconds(20), clock: clock)
        defer { fixture.cleanUp() }
        let first = await fixture.chain.submit(try fixture.envelope(0))
        await clock.advance(by: .milliseconds(15))
        _ = await fixture.chain.submit(try fixture.envelope(1))
        await clock.advance(by: .milliseconds(15))
        #expect(await fixture.chain.height == 0, "30 ms in, but the last arrival was 15 ms ago")
        await clock.advance(by: .milliseconds(4))
        #expect(await fixture.chain.height == 0)
        await clock.advance(by: .milliseconds(1))
        #expect(await fixture.chain.height == 1, "20 ms after the last arrival")
        #expect(await first.outcome == .success)
        #expect(try await fixture.verifiedBlocks().map(\.data.data.count) == [2])
    }

    @Test func storesBlocksReorderedByDependencies() async throws {
        let fixture = try SoloFixture(maxMessageCount: 2, reorders: true)
        defer { fixture.cleanUp() }
        // The second reads k0 (as written by the first); reordered, it goes first.
        let writer = try fixture.envelope(0)
        var builder = EndorserTransactionBuilder(
            channelID: "healthchannel", chaincodeName: "cc", creator: Data(fixture.client.serialized), nonce: Data([1, 2, 3]), timestamp: TestPKI.now)
        var set = Kvrwset_KVRWSet()
        var read = Kvrwset_KVRead()
        read.key = "k0"
        set.reads = [read]
        builder.readWriteSets = [("cc", set)]
        let reader = try builder.envelope { payload in Data(try fixture.client.sign(payload)) }
        let first = await fixture.chain.submit(writer)
        let second = await fixture.chain.submit(reader)
        #expect(await [first.outcome, second.outcome] == [.success, .success])
        let block = try #require(try await fixture.verifiedBlocks().last)
        #expect(block.data.data == [try reader.serializedData(), try writer.serializedData()])
    }

    @Test func cutsByPreferredBytes() async throws {
        let fixture = try SoloFixture(maxMessageCount: 100, preferredMaxBytes: 5000, timeout: .milliseconds(50))
        defer { fixture.cleanUp() }
        for index in 0..<6 { _ = await fixture.chain.broadcast(try fixture.envelope(index, valueBytes: 2000)) }
        let blocks = try await fixture.verifiedBlocks()
        #expect(blocks.flatMap(\.data.data).count == 6)
        #expect(blocks.allSatisfy { $0.data.data.reduce(0) { $0 + $1.count } <= 5000 || $0.data.data.count == 1 })
        #expect(blocks.count >= 3)
    }

    @Test func refusesBadInputAndKeepsServing() async throws {
        let fixture = try SoloFixture(maxMessageCount: 1)
        defer { fixture.cleanUp() }
        let oversized = try fixture.envelope(0, valueBytes: 70 * 1024)
        #expect(await fixture.chain.broadcast(oversized).status == .requestEntityTooLarge)

        var unsigned = try fixture.envelope(1)
        unsigned.signature = Data()
        #expect(await fixture.chain.broadcast(unsigned).status == .forbidden)
        var badlySigned = try fixture.envelope(2)
        badlySigned.signature = Data(try fixture.client.sign(Array("other".utf8)))
        #expect(await fixture.chain.broadcast(badlySigned).status == .forbidden)

        #expect(await fixture.chain.broadcast(try fixture.envelope(3, channel: "otherchannel")).status == .notFound)
        let stranger = try TestPKI(mspID: "HospitalBMSP", domain: "b.test").identity("bob")
        #expect(await fixture.chain.broadcast(try fixture.envelope(4, signer: stranger)).status == .forbidden)
        let peer = try fixture.hospital.identity("peer0", units: ["peer"])
        #expect(await fixture.chain.broadcast(try fixture.envelope(5, signer: peer)) == .success, "any member writes")

        var garbage = Common_Envelope()
        garbage.payload = Data([0xff, 0x01, 0x02])
        #expect(await fixture.chain.broadcast(garbage).status == .badRequest)
        var config = try fixture.envelope(6)
        var payload = try Common_Payload(serializedBytes: config.payload)
        var header = try Common_ChannelHeader(serializedBytes: payload.header.channelHeader)
        header.type = Int32(Common_HeaderType.config.rawValue)
        payload.header.channelHeader = try header.serializedData()
        config.payload = try payload.serializedData()
        config.signature = Data(try fixture.client.sign(config.payload))
        #expect(await fixture.chain.broadcast(config).status == .badRequest)

        #expect(await fixture.chain.broadcast(try fixture.envelope(7)) == .success, "the orderer keeps serving")
        #expect(try await fixture.verifiedBlocks().count == 2)
    }

    @Test func deliverWaitsForBlocksNotYetCut() async throws {
        let fixture = try SoloFixture(maxMessageCount: 1)
        defer { fixture.cleanUp() }
        #expect(try await fixture.chain.block(0, wait: false) == nil)
        async let waited = fixture.chain.block(0, wait: true)
        try await Task.sleep(for: .milliseconds(50))
        #expect(await fixture.chain.broadcast(try fixture.envelope(0)) == .success)
        let block = try #require(try await waited)
        #expect(block.header.number == 0)
    }
}
