import BlockIntegrity
import Foundation
import GRPCCore
import RPCTransport
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf

/// Fabric's `orderer.AtomicBroadcast` over gRPC for the channels of one orderer.
///
/// Broadcast: the envelopes of one stream are handed to the chain one after another, so that they
/// are ordered in the order they came (as in Fabric); their answers are awaited concurrently (at
/// most `Limits.broadcastInFlightMax` waiting per stream) and sent in that order, each once its
/// block is stored or with its refusal. On shutdown a stream stops reading, answers what
/// it read and ends (other orderers keep forwarding streams open to a leader). Deliver: one signed SeekInfo per request,
/// checked against the channel's Readers policy; blocks are written as the client reads them
/// (gRPC flow control bounds the stream).
struct AtomicBroadcastService: Orderer_AtomicBroadcast.SimpleServiceProtocol {
    let chains: [String: any OrderingChain]
    let clock: @Sendable () -> Date
    let metrics: OrdererMetrics
    /// When it fires, Broadcast streams stop reading and end once their envelopes are answered.
    var shutdown = ShutdownSignal()

    func broadcast(
        request: RPCAsyncSequence<Common_Envelope, any Error>, response: RPCWriter<Orderer_BroadcastResponse>, context: ServerContext
    ) async throws {
        let (receipts, sink) = AsyncStream<BroadcastReceipt>.makeStream()
        let slots = InFlightSlots(limit: Limits.broadcastInFlightMax)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await receipt in receipts {
                    let result = await receipt.outcome
                    metrics.countBroadcast(result.status)
                    await slots.release()
                    var message = Orderer_BroadcastResponse()
                    message.status = result.status
                    message.info = result.info
                    try await response.write(message)
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { reading in
                reading.addTask {
                    for try await envelope in request {
                        await slots.acquire()
                        sink.yield(await route(envelope))
                    }
                }
                reading.addTask { await shutdown.wait() }
                defer { reading.cancelAll() }
                try await reading.next()
            }
            sink.finish()
            try await group.waitForAll()
        }
    }

    /// The envelope's place in its channel's order, or its refusal.
    private func route(_ envelope: Common_Envelope) async -> BroadcastReceipt {
        guard let transaction = try? TransactionEnvelope(envelope: envelope) else {
            return BroadcastReceipt(BroadcastOutcome(status: .badRequest, info: "malformed envelope"))
        }
        guard let chain = chains[transaction.channelHeader.channelID] else {
            return BroadcastReceipt(BroadcastOutcome(status: .notFound, info: "channel '\(transaction.channelHeader.channelID)' is not served here"))
        }
        return await chain.submit(envelope)
    }

    func deliver(
        request: RPCAsyncSequence<Common_Envelope, any Error>, response: RPCWriter<Orderer_DeliverResponse>, context: ServerContext
    ) async throws {
        for try await envelope in request {
            let status = try await serve(envelope, to: response)
            var message = Orderer_DeliverResponse()
            message.status = status
            try await response.write(message)
        }
    }

    /// Sends the blocks a SeekInfo asks for; returns the final status. The request is checked and
    /// resolved as the peer's Deliver checks it (`DeliverSeek`).
    private func serve(_ envelope: Common_Envelope, to response: RPCWriter<Orderer_DeliverResponse>) async throws -> Common_Status {
        guard let channelID = DeliverSeek.channel(of: envelope) else { return .badRequest }
        guard let chain = chains[channelID] else { return .notFound }
        let settings = await chain.settings
        let seek: DeliverSeek
        switch DeliverSeek.resolve(envelope, membership: settings.membership, readers: settings.readers, height: await chain.height, now: clock()) {
        case .success(let resolved): seek = resolved
        case .failure(let refusal): return refusal.status
        }
        let (start, stop, wait) = (seek.start, seek.stop, seek.waitsForBlocks)
        var number = start
        while number <= stop {
            let found: Common_Block?
            do {
                found = try await chain.block(number, wait: wait)
            } catch let error as OrdererError where error.code == .unavailable {
                return .serviceUnavailable
            }
            guard let block = found else { return .notFound }
            var message = Orderer_DeliverResponse()
            message.block = block
            try await response.write(message)
            if number == UInt64.max { break }
            number += 1
        }
        return .success
    }
}

/// A counting semaphore for the envelopes of one broadcast stream.
actor InFlightSlots {
    private let limit: Int
    private var used = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = limit }

    func acquire() async {
        if used < limit {
            used += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            used -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
