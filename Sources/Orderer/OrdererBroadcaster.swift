import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LedgerWire
import Logging
import RPCTransport
import Synchronization

/// One long-lived Broadcast stream to the ordering service, shared by every caller: envelopes are
/// written in the order they are submitted and the orderer answers them in that order. When the
/// stream fails, the envelopes awaiting an answer fail (the caller cannot know whether they were
/// ordered; their txids tell later) and the next endpoint is tried.
package final class OrdererBroadcaster: Sendable {
    private struct Item {
        let envelope: Common_Envelope
        let continuation: CheckedContinuation<Orderer_BroadcastResponse, any Error>
    }

    private struct State {
        var queued: [Item] = []
        var awaitingAnswer: [Item] = []
        var writerWaiting: CheckedContinuation<Void, Never>?
        var stopped = false
    }

    private let endpoints: [NodeAddress]
    private let tls: MutualTLS
    private let logger: Logger
    private let state = Mutex(State())

    package init(endpoints: [NodeAddress], tls: MutualTLS, logger: Logger) {
        self.endpoints = endpoints
        self.tls = tls
        self.logger = logger
    }

    /// Orders `envelope`; the orderer's answer (SUCCESS once consensus has it). Throws when the
    /// stream failed before the answer came, or the broadcaster stopped.
    package func broadcast(_ envelope: Common_Envelope) async throws -> Orderer_BroadcastResponse {
        try await withCheckedThrowingContinuation { continuation in
            let writer = state.withLock { state -> CheckedContinuation<Void, Never>?? in
                guard !state.stopped else { return .none }
                state.queued.append(Item(envelope: envelope, continuation: continuation))
                defer { state.writerWaiting = nil }
                return .some(state.writerWaiting)
            }
            switch writer {
            case .none: continuation.resume(throwing: RPCError(code: .unavailable, message: "the broadcaster has stopped"))
            case .some(let waiting): waiting?.resume()
            }
        }
    }

    /// Keeps a stream open until the task is cancelled; then fails whatever is still pending.
    package func run() async {
        var attempt = 0
        while !Task.isCancelled, !endpoints.isEmpty {
            let endpoint = endpoints[attempt % endpoints.count]
            attempt += 1
            do {
                try await stream(to: endpoint)
            } catch {
                if Task.isCancelled { break }
                logger.warning("broadcast stream failed; trying the next orderer", metadata: ["orderer": "\(endpoint)", "error": "\(error)"])
            }
            failAwaiting(RPCError(code: .unavailable, message: "the broadcast stream to \(endpoint) failed before the orderer answered"))
            do { try await Task.sleep(for: .milliseconds(200)) } catch { break }
        }
        let (pending, writer) = state.withLock { state -> ([Item], CheckedContinuation<Void, Never>?) in
            state.stopped = true
            defer {
                state.queued.removeAll()
                state.awaitingAnswer.removeAll()
                state.writerWaiting = nil
            }
            return (state.awaitingAnswer + state.queued, state.writerWaiting)
        }
        writer?.resume()
        for item in pending { item.continuation.resume(throwing: RPCError(code: .unavailable, message: "the broadcaster has stopped")) }
    }

    private func failAwaiting(_ error: RPCError) {
        let failed = state.withLock { state -> [Item] in
            defer { state.awaitingAnswer.removeAll() }
            return state.awaitingAnswer
        }
        for item in failed { item.continuation.resume(throwing: error) }
    }

    private func stream(to endpoint: NodeAddress) async throws {
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: endpoint.host, port: endpoint.port), transportSecurity: tls.clientSecurity)
        ) { client in
            let service = Orderer_AtomicBroadcast.Client(wrapping: client)
            try await service.broadcast { writer in
                while !Task.isCancelled {
                    let batch = await self.nextBatch()
                    guard !batch.isEmpty else { continue }
                    try await writer.write(contentsOf: batch.map(\.envelope))
                }
            } onResponse: { response in
                for try await answer in response.messages {
                    let item = self.state.withLock { state -> Item? in
                        state.awaitingAnswer.isEmpty ? nil : state.awaitingAnswer.removeFirst()
                    }
                    item?.continuation.resume(returning: answer)
                }
            }
        }
    }

    /// Takes everything queued (moving it to awaiting-answer before it is written, so answers
    /// always find their item), or waits for the next submission.
    private func nextBatch() async -> [Item] {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if !state.queued.isEmpty || state.stopped || Task.isCancelled { return true }
                    state.writerWaiting = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let writer = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.writerWaiting = nil }
                return state.writerWaiting
            }
            writer?.resume()
        }
        return state.withLock { state in
            let batch = state.queued
            state.queued.removeAll(keepingCapacity: true)
            state.awaitingAnswer += batch
            return batch
        }
    }
}
