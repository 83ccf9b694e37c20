import LedgerWire
import Logging
import RPCTransport

/// A follower's Broadcast stream to the current leader of an etcd-ordered channel: envelopes are
/// written on one long-lived stream (an `OrdererBroadcaster`) and the leader's answers relayed.
/// When the stream fails, the envelopes awaiting an answer get SERVICE_UNAVAILABLE: the follower
/// cannot tell whether the leader ordered them.
final class LeaderForwarder: Sendable {
    let leader: NodeAddress
    private let broadcaster: OrdererBroadcaster
    private let streaming: Task<Void, Never>

    init(leader: NodeAddress, tls: MutualTLS, logger: Logger) {
        self.leader = leader
        let broadcaster = OrdererBroadcaster(endpoints: [leader], tls: tls, logger: logger)
        self.broadcaster = broadcaster
        streaming = Task { await broadcaster.run() }
    }

    /// The leader's answer to `envelope`, or SERVICE_UNAVAILABLE when it could not be had.
    func forward(_ envelope: Common_Envelope) async -> BroadcastOutcome {
        do {
            let answer = try await broadcaster.broadcast(envelope)
            return BroadcastOutcome(status: answer.status, info: answer.info)
        } catch {
            return BroadcastOutcome(status: .serviceUnavailable, info: "the leader \(leader) did not answer: the envelope may or may not have been ordered")
        }
    }

    /// Ends the stream; envelopes still waiting get SERVICE_UNAVAILABLE.
    func close() {
        streaming.cancel()
    }
}
