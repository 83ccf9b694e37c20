import LedgerWire
import Logging
import RPCTransport
import Synchronization
import NodeClients

/// A follower's Broadcast stream to the current leader of an etcd-ordered channel: envelopes are
/// written on one long-lived stream (an `OrdererBroadcaster`) and the leader's answers relayed.
/// When the stream fails, the envelopes awaiting an answer get SERVICE_UNAVAILABLE: the follower
/// cannot tell whether the leader ordered them.
final class LeaderForwarder: LeaderLink {
    private struct Progress {
        /// Envelopes forwarded and not yet answered.
        var waiting = 0
        /// When an answer last came, or when the first of the waiting envelopes was forwarded.
        var lastProgress = ContinuousClock.now
    }

    let leader: NodeAddress
    private let broadcaster: OrdererBroadcaster
    private let streaming: Task<Void, Never>
    private let progress = Mutex(Progress())

    init(leader: NodeAddress, tls: MutualTLS, logger: Logger) {
        self.leader = leader
        let broadcaster = OrdererBroadcaster(endpoints: [leader], tls: tls, logger: logger)
        self.broadcaster = broadcaster
        streaming = Task { await broadcaster.run() }
    }

    /// Queues `envelope` on the stream to the leader (envelopes are written in the order they are
    /// forwarded); the receipt resolves with the leader's answer, or SERVICE_UNAVAILABLE when it
    /// could not be had.
    func forward(_ envelope: Common_Envelope) -> BroadcastReceipt {
        progress.withLock { progress in
            if progress.waiting == 0 { progress.lastProgress = .now }
            progress.waiting += 1
        }
        let receipt = BroadcastReceipt()
        let leader = leader
        broadcaster.enqueue(envelope) { result in
            self.progress.withLock { progress in
                progress.waiting -= 1
                progress.lastProgress = .now
            }
            switch result {
            case .success(let answer):
                receipt.resume(returning: BroadcastOutcome(status: answer.status, info: answer.info))
            case .failure(let unknown as OrderingOutcomeUnknown):
                receipt.resume(returning: BroadcastOutcome(
                    status: .serviceUnavailable, info: "the leader \(leader) did not answer: the envelope \(OrderingOutcomeUnknown.marker) (\(unknown.reason))"))
            case .failure(let error):
                receipt.resume(returning: BroadcastOutcome(status: .serviceUnavailable, info: "the envelope could not be sent to the leader \(leader) (\(error)); try again"))
            }
        }
        return receipt
    }

    /// Whether envelopes have been waiting for an answer, with none coming, for longer than
    /// `limit` (the leader is unreachable from here though it still holds the leader key).
    func isStalled(longerThan limit: Duration) -> Bool {
        progress.withLock { $0.waiting > 0 && ContinuousClock.now - $0.lastProgress > limit }
    }

    /// Ends the stream; envelopes still waiting get SERVICE_UNAVAILABLE.
    func close() {
        streaming.cancel()
    }
}
