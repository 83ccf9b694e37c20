import RPCTransport
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LedgerWire
import Synchronization

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

/// One long-lived connection to another peer's endorser, opened on first use and kept (gRPC
/// reconnects it after failures): the gateway's proposals to other organizations share it instead
/// of paying a TCP and TLS handshake each.
package final class EndorserConnection: Sendable {
    private let endpoint: NodeAddress
    private let tls: MutualTLS
    private let state = Mutex<GRPCClient<HTTP2ClientTransport.Posix>?>(nil)

    package init(endpoint: NodeAddress, tls: MutualTLS) {
        self.endpoint = endpoint
        self.tls = tls
    }

    /// Sends one proposal; `timeout` bounds the call (connecting too, on first use).
    package func processProposal(_ proposal: Protos_SignedProposal, timeout: Duration = .seconds(30)) async throws -> Protos_ProposalResponse {
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        return try await Protos_Endorser.Client(wrapping: try client()).processProposal(proposal, options: options)
    }

    private func client() throws -> GRPCClient<HTTP2ClientTransport.Posix> {
        try state.withLock { state in
            if let state { return state }
            let client = GRPCClient(
                transport: try .http2NIOPosix(target: .ipv4(address: endpoint.host, port: endpoint.port), transportSecurity: tls.clientSecurity))
            Task { try? await client.runConnections() }
            state = client
            return client
        }
    }

    /// Closes the connection; a later call opens a new one.
    package func close() {
        let current = state.withLock { state in
            defer { state = nil }
            return state
        }
        current?.beginGracefulShutdown()
    }
}
