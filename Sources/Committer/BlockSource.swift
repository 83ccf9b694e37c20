import Foundation
import Identity
import LedgerWire
import RPCTransport
import NodeClients

/// Where a peer's committer reads a channel's blocks from: an orderer's Deliver service over
/// mutual TLS (`DeliverBlockSource`), or an ordering chain in the same process
/// (`InProcessBlockSource`, for tests and the simulation).
package protocol BlockSource: Sendable, CustomStringConvertible {
    /// Hands the channel's blocks from `start` on, in order, to `receive`, waiting for blocks not
    /// yet cut. Returns the source's status when it ends the stream; throws when it fails or
    /// `receive` throws.
    func follow(channel: String, start: UInt64, receive: @escaping @Sendable (Common_Block) async throws -> Void) async throws -> Common_Status
}

/// An orderer's Deliver service, asked with requests signed by the peer.
package struct DeliverBlockSource: BlockSource {
    package let endpoint: NodeAddress
    package let tls: MutualTLS
    package let signer: SigningIdentity

    package init(endpoint: NodeAddress, tls: MutualTLS, signer: SigningIdentity) {
        self.endpoint = endpoint
        self.tls = tls
        self.signer = signer
    }

    package var description: String { "orderer \(endpoint)" }

    package func follow(channel: String, start: UInt64, receive: @escaping @Sendable (Common_Block) async throws -> Void) async throws -> Common_Status {
        let client = OrdererClient(host: endpoint.host, port: endpoint.port, tls: tls)
        return try await client.follow(channel: channel, start: start, signer: signer, onBlock: receive)
    }
}

/// Blocks read from a function of the block number that waits until the block exists (an
/// ordering chain's `block(_:wait:)` in the same process) and returns nil when the source stops.
package struct InProcessBlockSource: BlockSource {
    package let description: String
    private let block: @Sendable (UInt64) async throws -> Common_Block?

    package init(_ description: String, block: @escaping @Sendable (UInt64) async throws -> Common_Block?) {
        self.description = description
        self.block = block
    }

    package func follow(channel: String, start: UInt64, receive: @escaping @Sendable (Common_Block) async throws -> Void) async throws -> Common_Status {
        var number = start
        while let next = try await block(number) {
            try await receive(next)
            guard number < UInt64.max else { break }
            number += 1
        }
        return .serviceUnavailable
    }
}
