import Foundation
import Identity
import LedgerCore
import LedgerWire
import NetworkSimulation
import RPCTransport
import Testing
import TestSupport
import WorldState
@testable import NodeClients
@testable import Orderer

/// The seam an etcd follower reaches the leader through: `TLSLeaderConnections` (a Broadcast
/// stream and Deliver over gRPC and mutual TLS, to a real AtomicBroadcast service) and the
/// simulation's `SimulatedOrdererNetwork` (envelopes handed to the leader's chain as queued work),
/// held to the same cases against one real solo chain standing in for the leader.
@Suite struct LeaderConnectionsSuite {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case grpc
        case simulated
        var testDescription: String { rawValue }
    }

    /// The connections, the leader's address, and what makes the simulated network move (no-op over gRPC).
    typealias Connected = (connections: any LeaderConnections, leader: NodeAddress, pump: @Sendable () async -> Void)

    static func withConnections(_ backend: Backend, _ fixture: EnvelopeBroadcasterSuite.Fixture, _ body: @Sendable (Connected) async throws -> Void) async throws {
        switch backend {
        case .simulated:
            let work = SimulatedWork()
            let network = SimulatedOrdererNetwork(work: work)
            network.started("leader.sim:7050", chain: fixture.chain, incarnation: 1, blockStore: fixture.blockStore)
            try await body((network, NodeAddress(host: "leader.sim", port: 7050), {
                repeat { await work.drain() } while network.relayAnswers() > 0
            }))
        case .grpc:
            let material = try EndorserConnectionTests.Material()
            defer { try? FileManager.default.removeItem(at: material.directory) }
            let service = AtomicBroadcastService(chains: ["healthchannel": fixture.chain], clock: { TestPKI.now }, metrics: OrdererMetrics())
            try await EndorserConnectionTests.withServer([service], tls: material.server) { address in
                try await body((TLSLeaderConnections(tls: material.client), address, {}))
            }
        }
    }

    /// Waits (pumping the simulated network) until the receipt has its outcome.
    static func outcome(of receipt: BroadcastReceipt, _ pump: @Sendable () async -> Void) async throws -> BroadcastOutcome? {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            await pump()
            if let outcome = receipt.resolvedOutcome { return outcome }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    @Test(arguments: Backend.allCases)
    func forwardedEnvelopesGetTheLeadersAnswers(_ backend: Backend) async throws {
        let fixture = try EnvelopeBroadcasterSuite.Fixture()
        try await Self.withConnections(backend, fixture) { connected in
            let link = connected.connections.link(to: connected.leader)
            defer { link.close() }
            #expect(link.leader == connected.leader)
            let accepted = try (0..<7).map { link.forward(try fixture.envelope($0)) }
            let wrongChannel = link.forward(try fixture.envelope(100, channel: "otherchannel"))
            let unsigned = link.forward(try fixture.envelope(101, signed: false))
            for receipt in accepted {
                #expect(try await Self.outcome(of: receipt, connected.pump) == .success)
            }
            #expect(try await Self.outcome(of: wrongChannel, connected.pump)?.status == .notFound)
            #expect(try await Self.outcome(of: unsigned, connected.pump)?.status == .forbidden)
            #expect(!link.isStalled(longerThan: .seconds(60)))
            // What the leader ordered is what was forwarded, once each.
            var ordered: [Data] = []
            for number in 0..<(await fixture.chain.height) { ordered += try #require(try await fixture.chain.block(number, wait: false)).data.data }
            #expect(Set(ordered).count == 7 && ordered.count == 7)
        }
    }

    @Test(arguments: Backend.allCases)
    func blocksComeFromTheLeadersDeliver(_ backend: Backend) async throws {
        let fixture = try EnvelopeBroadcasterSuite.Fixture()
        try await Self.withConnections(backend, fixture) { connected in
            let link = connected.connections.link(to: connected.leader)
            defer { link.close() }
            for receipt in try (0..<6).map({ link.forward(try fixture.envelope($0)) }) {
                #expect(try await Self.outcome(of: receipt, connected.pump) == .success)
            }
            let height = await fixture.chain.height
            // Six envelopes, at most five per block: two blocks at least (the fixture's chain starts empty).
            try #require(height >= 2)
            let (blocks, status) = try await connected.connections.blocks(of: "healthchannel", from: connected.leader, start: 0, stop: height - 1, signer: fixture.client)
            #expect(status == .success)
            #expect(blocks.map(\.header.number) == Array(0..<height))
            for block in blocks { #expect(try await fixture.chain.block(block.header.number, wait: false) == block) }
        }
    }
}
