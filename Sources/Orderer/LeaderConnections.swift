import Identity
import LedgerWire
import Logging
import NodeClients
import RPCTransport

/// How an orderer of an etcd-ordered channel reaches the leader: a Broadcast link that forwards
/// envelopes, and Deliver for blocks compacted out of the log. `TLSLeaderConnections` is the real
/// one (gRPC over mutual TLS); the simulation hands envelopes and blocks between its chains.
package protocol LeaderConnections: Sendable {
    /// A link that forwards envelopes to the leader at `leader`, until closed.
    func link(to leader: NodeAddress) -> any LeaderLink

    /// Blocks `start...stop` of `channel` from the leader's Deliver, with the status it ended on.
    func blocks(of channel: String, from leader: NodeAddress, start: UInt64, stop: UInt64, signer: SigningIdentity) async throws
        -> (blocks: [Common_Block], status: Common_Status)
}

/// A follower's link to the leader: envelopes forwarded in order, the leader's answers relayed.
package protocol LeaderLink: Sendable {
    var leader: NodeAddress { get }

    /// The receipt resolves with the leader's answer, or SERVICE_UNAVAILABLE when it could not be had.
    func forward(_ envelope: Common_Envelope) -> BroadcastReceipt

    /// Whether envelopes have waited for an answer, with none coming, for longer than `limit`.
    func isStalled(longerThan limit: Duration) -> Bool

    /// Ends the link; envelopes still waiting get SERVICE_UNAVAILABLE.
    func close()
}

/// The leader over gRPC and mutual TLS: a `LeaderForwarder` stream, and an `OrdererClient` for Deliver.
package struct TLSLeaderConnections: LeaderConnections {
    /// This orderer's TLS identity as a client of the other orderers, trusting their TLS CAs.
    let tls: MutualTLS
    let logger: Logger

    package init(tls: MutualTLS, logger: Logger = Logger(label: "medrex.orderer")) {
        self.tls = tls
        self.logger = logger
    }

    package func link(to leader: NodeAddress) -> any LeaderLink {
        LeaderForwarder(leader: leader, tls: tls, logger: logger)
    }

    package func blocks(of channel: String, from leader: NodeAddress, start: UInt64, stop: UInt64, signer: SigningIdentity) async throws
        -> (blocks: [Common_Block], status: Common_Status)
    {
        try await OrdererClient(host: leader.host, port: leader.port, tls: tls).deliver(channel: channel, start: start, stop: stop, signer: signer)
    }
}
