import Foundation
import GRPCCore
import LedgerCore
import LedgerWire
import Synchronization
import Testing
import TestSupport

@testable import Orderer

/// Envelopes sent on one Broadcast stream are ordered in the order they were sent, as in Fabric.
/// Before the fix each envelope was handed to the chain from a task of its own, so two
/// envelopes of one stream could swap places (seen as a transfer and its conflicting successor
/// committing in the wrong order in `PipelineEndToEndTests`).
@Suite struct BroadcastStreamOrderTests {
    /// Collects what the service writes.
    final class CollectingWriter: RPCWriterProtocol {
        let written = Mutex<[Orderer_BroadcastResponse]>([])
        func write(_ element: Orderer_BroadcastResponse) async throws { written.withLock { $0.append(element) } }
        func write(contentsOf elements: some Sequence<Orderer_BroadcastResponse>) async throws {
            for element in elements { try await write(element) }
        }
    }

    @Test func oneStreamIsOrderedAsSent() async throws {
        let fixture = try SoloFixture(maxMessageCount: 7, timeout: .milliseconds(20))
        defer { fixture.cleanUp() }
        let envelopes = try (0..<300).map { try fixture.envelope($0) }
        let service = AtomicBroadcastService(chains: ["healthchannel": fixture.chain], clock: { TestPKI.now }, metrics: OrdererMetrics())
        let writer = CollectingWriter()
        let requests = AsyncThrowingStream<Common_Envelope, any Error> { continuation in
            for envelope in envelopes { continuation.yield(envelope) }
            continuation.finish()
        }
        let context = ServerContext(
            descriptor: MethodDescriptor(service: ServiceDescriptor(fullyQualifiedService: "orderer.AtomicBroadcast"), method: "Broadcast"),
            remotePeer: "test", localPeer: "test", cancellation: ServerContext.RPCCancellationHandle())
        try await service.broadcast(request: RPCAsyncSequence(wrapping: requests), response: RPCWriter(wrapping: writer), context: context)

        let answers = writer.written.withLock { $0 }
        #expect(answers.count == envelopes.count)
        #expect(answers.allSatisfy { $0.status == .success })
        let ordered = try await fixture.verifiedBlocks().flatMap { $0.data.data }
        let positions = Dictionary(uniqueKeysWithValues: try envelopes.enumerated().map { (try $0.element.serializedData(), $0.offset) })
        let order = ordered.map { positions[$0] ?? -1 }
        #expect(order == Array(0..<envelopes.count), "the envelopes of one stream were ordered out of the order they were sent in")
    }
}
