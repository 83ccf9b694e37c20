import Foundation
import LedgerWire
import RPCTransport
import Synchronization
import Testing
import TestSupport
@testable import Committer
@testable import NodeClients
@testable import Orderer

/// The block-source seam the committer reads: an orderer's Deliver over gRPC and mutual TLS
/// (`DeliverBlockSource`), and a chain in the same process (`InProcessBlockSource`), held to the same
/// cases against one solo chain: blocks from the start asked for, in order, waiting for those not
/// cut yet, and the end of the stream when the orderer stops serving.
@Suite struct BlockSourceSuite {
    typealias Fixture = EnvelopeBroadcasterSuite.Fixture

    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case grpc
        case inProcess
        var testDescription: String { rawValue }
    }

    static func withSource(_ backend: Backend, _ fixture: Fixture, _ body: @Sendable (any BlockSource) async throws -> Void) async throws {
        switch backend {
        case .inProcess:
            let chain = fixture.chain
            try await body(InProcessBlockSource("solo chain") { number in
                do {
                    return try await chain.block(number, wait: true)
                } catch let error as OrdererError where error.code == .unavailable {
                    return nil
                }
            })
        case .grpc:
            let material = try EndorserConnectionTests.Material()
            defer { try? FileManager.default.removeItem(at: material.directory) }
            let service = AtomicBroadcastService(chains: ["healthchannel": fixture.chain], clock: { TestPKI.now }, metrics: OrdererMetrics())
            try await EndorserConnectionTests.withServer([service], tls: material.server) { address in
                try await body(DeliverBlockSource(endpoint: address, tls: material.client, signer: fixture.client))
            }
        }
    }

    final class Received: Sendable {
        let numbers = Mutex<[UInt64]>([])
        var all: [UInt64] { numbers.withLock { $0 } }
    }

    @Test(arguments: Backend.allCases)
    func deliversFromTheStartInOrderAndEndsWhenTheOrdererStops(_ backend: Backend) async throws {
        let fixture = try Fixture()
        // Six blocks of five envelopes before the stream starts, more while it runs.
        for index in 0..<30 { _ = await fixture.chain.submit(try fixture.envelope(index)) }
        try await Self.withSource(backend, fixture) { source in
            let received = Received()
            let following = Task {
                try await source.follow(channel: "healthchannel", start: 2) { block in received.numbers.withLock { $0.append(block.header.number) } }
            }
            for index in 30..<40 { _ = await fixture.chain.broadcast(try fixture.envelope(index)) }
            let height = await fixture.chain.height
            #expect(height > 8, "blocks were cut while the stream ran")
            let deadline = ContinuousClock.now + .seconds(60)
            while received.all.count < Int(height) - 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            await fixture.chain.stopServing()
            let status = try await following.value
            #expect(received.all == Array(2..<height))
            #expect(status == .serviceUnavailable)
        }
    }
}
