import Foundation
import Identity
import LedgerCore
import LedgerWire
import Logging
import RPCTransport
import Testing
import TestSupport
import WorldState
@testable import NodeClients
@testable import Orderer

/// The broadcaster seam the gateway submits through: `OrdererBroadcaster` on one Broadcast stream
/// to an orderer over gRPC and mutual TLS, and `ChainBroadcaster` handing envelopes to the chain in
/// process, held to the same cases against one real solo chain (in-memory block store).
@Suite struct EnvelopeBroadcasterSuite {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case grpc
        case inProcess
        var testDescription: String { rawValue }
    }

    struct Fixture {
        let client: SigningIdentity
        let chain: SoloChain
        let blockStore = InMemoryBlockStore()

        init() throws {
            let hospital = try TestPKI(mspID: "HospitalAMSP")
            let ordererOrg = try TestPKI(mspID: "OrdererMSP", domain: "orderer.test")
            client = try hospital.identity("dr", units: ["client"])
            let settings = ChannelOrderingSettings(
                channelID: "healthchannel", membership: MembershipRegistry([try hospital.msp()]),
                writers: try EndorsementPolicy.parse("'HospitalAMSP.member'"), readers: try EndorsementPolicy.parse("'HospitalAMSP.member'"),
                blockValidation: try EndorsementPolicy.parse("'OrdererMSP.orderer'"),
                batchLimits: BatchLimits(maxMessageCount: 5, absoluteMaxBytes: 64 * 1024, preferredMaxBytes: 32 * 1024), batchTimeout: .milliseconds(20))
            chain = SoloChain(
                settings: settings, blockStore: blockStore, signer: try ordererOrg.identity("orderer0", units: ["orderer"]),
                clock: SystemClock(wallClock: { TestPKI.now }))
        }

        func envelope(_ index: Int, channel: String = "healthchannel", signed: Bool = true) throws -> Common_Envelope {
            var builder = EndorserTransactionBuilder(
                channelID: channel, chaincodeName: "cc", creator: Data(client.serialized), nonce: Data("nonce-\(index)".utf8), timestamp: TestPKI.now)
            var write = Kvrwset_KVWrite()
            write.key = "k\(index)"
            write.value = Data([1])
            var set = Kvrwset_KVRWSet()
            set.writes = [write]
            builder.readWriteSets = [("cc", set)]
            let client = self.client
            return try builder.envelope(sign: signed ? { Data(try client.sign($0)) } : nil)
        }
    }

    static func withBroadcaster(_ backend: Backend, _ fixture: Fixture, _ body: @Sendable (any EnvelopeBroadcaster) async throws -> Void) async throws {
        switch backend {
        case .inProcess:
            let chain = fixture.chain
            try await body(ChainBroadcaster { chain })
        case .grpc:
            let material = try EndorserConnectionTests.Material()
            defer { try? FileManager.default.removeItem(at: material.directory) }
            let service = AtomicBroadcastService(chains: ["healthchannel": fixture.chain], clock: { TestPKI.now }, metrics: OrdererMetrics())
            try await EndorserConnectionTests.withServer([service], tls: material.server) { address in
                let broadcaster = OrdererBroadcaster(endpoints: [address], tls: material.client, logger: Logger(label: "broadcaster-suite"))
                let running = Task { await broadcaster.run() }
                defer { running.cancel() }
                try await body(broadcaster)
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func envelopesAreOrderedOnceEachAndAnsweredSuccess(_ backend: Backend) async throws {
        let fixture = try Fixture()
        let envelopes = try (0..<23).map { try fixture.envelope($0) }
        try await Self.withBroadcaster(backend, fixture) { broadcaster in
            // One after another: ordered in that order.
            for envelope in envelopes.prefix(8) {
                let answer = try await broadcaster.broadcast(envelope)
                #expect(answer.status == .success)
            }
            // Concurrently: each once.
            try await withThrowingTaskGroup(of: Common_Status.self) { group in
                for envelope in envelopes.dropFirst(8) { group.addTask { try await broadcaster.broadcast(envelope).status } }
                for try await status in group { #expect(status == .success) }
            }
        }
        var ordered: [Data] = []
        for number in 0..<(await fixture.chain.height) { ordered += try #require(try await fixture.chain.block(number, wait: false)).data.data }
        let sent = try envelopes.map { try $0.serializedData() }
        #expect(Array(ordered.prefix(8)) == Array(sent.prefix(8)))
        #expect(ordered.count == sent.count && Set(ordered) == Set(sent))
    }

    @Test(arguments: Backend.allCases)
    func refusalsAreAnswersWithTheChainsStatus(_ backend: Backend) async throws {
        let fixture = try Fixture()
        let unsigned = try fixture.envelope(1, signed: false)
        let otherChannel = try fixture.envelope(2, channel: "otherchannel")
        try await Self.withBroadcaster(backend, fixture) { broadcaster in
            let refusedUnsigned = try await broadcaster.broadcast(unsigned)
            let refusedChannel = try await broadcaster.broadcast(otherChannel)
            #expect(refusedUnsigned.status == .forbidden)
            #expect(refusedChannel.status == .notFound)
        }
        #expect(await fixture.chain.height == 0, "nothing was ordered")
    }

    @Test(arguments: Backend.allCases)
    func anOrdererThatCannotBeReachedIsAnError(_ backend: Backend) async throws {
        let fixture = try Fixture()
        let envelope = try fixture.envelope(1)
        switch backend {
        case .inProcess:
            let broadcaster = ChainBroadcaster { throw EnvelopeBroadcasterSuite.Down() }
            await #expect(throws: Down.self) { _ = try await broadcaster.broadcast(envelope) }
        case .grpc:
            let material = try EndorserConnectionTests.Material()
            defer { try? FileManager.default.removeItem(at: material.directory) }
            let broadcaster = OrdererBroadcaster(
                endpoints: [NodeAddress(host: "127.0.0.1", port: try ChildProcess.freePort())], tls: material.client, logger: Logger(label: "broadcaster-suite"))
            let running = Task { await broadcaster.run() }
            let call = Task { try await broadcaster.broadcast(envelope) }
            try await Task.sleep(for: .milliseconds(300))
            running.cancel()
            await #expect(throws: (any Error).self) { _ = try await call.value }
        }
    }

    struct Down: Error {}
}
