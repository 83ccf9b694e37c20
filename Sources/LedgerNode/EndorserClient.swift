import RPCTransport
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LedgerWire

/// Sends proposals to one peer's endorser over mutual TLS.
package enum EndorserClient {
    /// Keeps one connection open while `body` runs; `body` gets the endorser client.
    package static func withConnection<Result: Sendable>(
        host: String, port: Int, tls: MutualTLS,
        _ body: (Protos_Endorser.Client<HTTP2ClientTransport.Posix>) async throws -> Result
    ) async throws -> Result {
        try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: host, port: port), transportSecurity: tls.clientSecurity)) { client in
            try await body(Protos_Endorser.Client(wrapping: client))
        }
    }

    /// One proposal on a connection of its own; `timeout` bounds the whole call (connecting too).
    package static func processProposal(
        _ proposal: Protos_SignedProposal, host: String, port: Int, tls: MutualTLS, timeout: Duration = .seconds(30)
    ) async throws -> Protos_ProposalResponse {
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        return try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: host, port: port), transportSecurity: tls.clientSecurity)) { client in
            try await Protos_Endorser.Client(wrapping: client).processProposal(proposal, options: options)
        }
    }
}
