import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LedgerWire
import Logging
import RPCTransport
import Synchronization

/// What a gateway submits signed transactions to: the ordering service's answer to one envelope.
package protocol EnvelopeBroadcaster: Sendable {
    /// The orderer's answer. Throws `OrderingOutcomeUnknown` when the envelope was sent but no
    /// answer came back; any other error means it was not sent.
    func broadcast(_ envelope: Common_Envelope) async throws -> Orderer_BroadcastResponse
}

/// An envelope reached, or may have reached, the ordering service but its answer was lost: it
/// may or may not have been ordered. Its txid tells later (a commit, or nothing).
package struct OrderingOutcomeUnknown: Error, CustomStringConvertible {
    /// The words an orderer's SERVICE_UNAVAILABLE answer carries when it cannot tell whether the
    /// envelope was ordered (a follower whose leader did not answer; an append that failed midway).
    package static let marker = "may or may not have been ordered"

    package let reason: String

    package init(_ reason: String) { self.reason = reason }

    package var description: String { reason }

    /// Whether `answer` says the envelope's fate is unknown, as opposed to a refusal.
    package static func isUnknown(_ answer: Orderer_BroadcastResponse) -> Bool {
        answer.status == .serviceUnavailable && answer.info.contains(marker)
    }
}

/// One long-lived Broadcast stream to the ordering service, shared by every caller: envelopes are
/// written in the order they are submitted and the orderer answers them in that order. When the
/// stream fails, the envelopes awaiting an answer fail (the caller cannot know whether they were
/// ordered: `OrderingOutcomeUnknown`; their txids tell later) and the next endpoint is tried.
package final class OrdererBroadcaster: EnvelopeBroadcaster {
    private struct Item {
        let envelope: Common_Envelope
        let completion: @Sendable (Result<Orderer_BroadcastResponse, any Error>) -> Void
    }

    private struct State {
        var queued: [Item] = []
        var awaitingAnswer: [Item] = []
        var writerWaiting: CheckedContinuation<Void, Never>?
        var stopped = false
    }

    /// The orderers and the TLS to reach them: a channel's configuration can change them.
    private let targets: Mutex<(endpoints: [NodeAddress], tls: MutualTLS)>
    private let logger: Logger
    private let state = Mutex(State())

    package init(endpoints: [NodeAddress], tls: MutualTLS, logger: Logger) {
        targets = Mutex((endpoints, tls))
        self.logger = logger
    }

    /// The orderers to use from the next stream on (a config block changed them); an open stream
    /// goes on until it ends.
    package func use(endpoints: [NodeAddress], tls: MutualTLS) {
        targets.withLock { $0 = (endpoints, tls) }
    }

    /// Orders `envelope`; the orderer's answer (SUCCESS once consensus has it). Throws when the
    /// stream failed before the answer came, or the broadcaster stopped.
    package func broadcast(_ envelope: Common_Envelope) async throws -> Orderer_BroadcastResponse {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(envelope) { continuation.resume(with: $0) }
        }
    }

    /// Queues `envelope` behind those queued before it; `completion` gets the orderer's answer,
    /// or the error `broadcast` would throw.
    package func enqueue(_ envelope: Common_Envelope, completion: @escaping @Sendable (Result<Orderer_BroadcastResponse, any Error>) -> Void) {
        let writer = state.withLock { state -> CheckedContinuation<Void, Never>?? in
            guard !state.stopped else { return .none }
            state.queued.append(Item(envelope: envelope, completion: completion))
            defer { state.writerWaiting = nil }
            return .some(state.writerWaiting)
        }
        switch writer {
        case .none: completion(.failure(RPCError(code: .unavailable, message: "the broadcaster has stopped")))
        case .some(let waiting): waiting?.resume()
        }
    }

    /// Keeps a stream open until the task is cancelled; then fails whatever is still pending.
    package func run() async {
        var attempt = 0
        while !Task.isCancelled {
            let (endpoints, tls) = targets.withLock { $0 }
            guard !endpoints.isEmpty else {
                // No orderer named (yet): wait for a configuration that names one.
                do { try await Task.sleep(for: .seconds(1)) } catch { break }
                continue
            }
            let endpoint = endpoints[attempt % endpoints.count]
            attempt += 1
            do {
                try await stream(to: endpoint, tls: tls)
            } catch {
                if Task.isCancelled { break }
                logger.warning("broadcast stream failed; trying the next orderer", metadata: ["orderer": "\(endpoint)", "error": "\(error)"])
            }
            failAwaiting(OrderingOutcomeUnknown("the broadcast stream to \(endpoint) failed before the orderer answered: the envelope \(OrderingOutcomeUnknown.marker)"))
            do { try await Task.sleep(for: .milliseconds(200)) } catch { break }
        }
        let (sent, unsent, writer) = state.withLock { state -> ([Item], [Item], CheckedContinuation<Void, Never>?) in
            state.stopped = true
            defer {
                state.queued.removeAll()
                state.awaitingAnswer.removeAll()
                state.writerWaiting = nil
            }
            return (state.awaitingAnswer, state.queued, state.writerWaiting)
        }
        writer?.resume()
        for item in sent {
            item.completion(.failure(OrderingOutcomeUnknown("the broadcaster stopped before the orderer answered: the envelope \(OrderingOutcomeUnknown.marker)")))
        }
        for item in unsent { item.completion(.failure(RPCError(code: .unavailable, message: "the broadcaster has stopped"))) }
    }

    private func failAwaiting(_ error: OrderingOutcomeUnknown) {
        let failed = state.withLock { state -> [Item] in
            defer { state.awaitingAnswer.removeAll() }
            return state.awaitingAnswer
        }
        for item in failed { item.completion(.failure(error)) }
    }

    private func stream(to endpoint: NodeAddress, tls: MutualTLS) async throws {
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
                    item?.completion(.success(answer))
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
