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
        let options = CallOptions.failingFast(timeout: timeout)
        return try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: host, port: port), transportSecurity: tls.clientSecurity)) { client in
            try await Protos_Endorser.Client(wrapping: client).processProposal(proposal, options: options)
        }
    }
}

/// One long-lived connection to another peer's endorser, opened on first use and kept (gRPC
/// reconnects it after failures): the gateway's proposals to other organizations share it instead
/// of paying a TCP and TLS handshake each. The proposals go on one `medrex.EndorsementStream`
/// stream, opened again after it ends; a peer that does not serve that API (Fabric's) gets unary
/// `ProcessProposal` calls.
package final class EndorserConnection: RemoteEndorser {
    private struct State {
        var client: GRPCClient<HTTP2ClientTransport.Posix>?
        var stream: ProposalStream?
        /// The peer answered the stream with UNIMPLEMENTED.
        var streamUnsupported = false
    }

    private let endpoint: NodeAddress
    private let tls: MutualTLS
    private let state = Mutex(State())

    package init(endpoint: NodeAddress, tls: MutualTLS) {
        self.endpoint = endpoint
        self.tls = tls
    }

    package var description: String { "endorser \(endpoint)" }

    /// Sends one proposal; `timeout` bounds the call (connecting too, on first use).
    package func processProposal(_ proposal: Protos_SignedProposal, timeout: Duration = .seconds(30)) async throws -> Protos_ProposalResponse {
        if let stream = try proposalStream() {
            do {
                return try await stream.send(proposal, timeout: timeout)
            } catch let error as RPCError where error.code == .unimplemented {
                state.withLock { state in
                    state.streamUnsupported = true
                    state.stream = nil
                }
            }
        }
        return try await Protos_Endorser.Client(wrapping: try client()).processProposal(proposal, options: .failingFast(timeout: timeout))
    }

    /// The open proposal stream (a new one if the last one ended); nil if the peer has none.
    private func proposalStream() throws -> ProposalStream? {
        let client = try client()
        return state.withLock { state in
            if state.streamUnsupported { return nil }
            if let stream = state.stream, !stream.answers.isClosed { return stream }
            let stream = ProposalStream.open(on: client, peer: endpoint.description)
            state.stream = stream
            return stream
        }
    }

    private func client() throws -> GRPCClient<HTTP2ClientTransport.Posix> {
        try state.withLock { state in
            if let client = state.client { return client }
            let client = GRPCClient(
                transport: try .http2NIOPosix(target: .ipv4(address: endpoint.host, port: endpoint.port), transportSecurity: tls.clientSecurity))
            Task { try? await client.runConnections() }
            state.client = client
            return client
        }
    }

    /// Closes the connection; a later call opens a new one.
    package func close() {
        let (client, stream) = state.withLock { state in
            defer {
                state.client = nil
                state.stream = nil
            }
            return (state.client, state.stream)
        }
        stream?.finish()
        client?.beginGracefulShutdown()
    }
}

/// One `medrex.EndorsementStream/ProcessProposals` call: proposals go out as they are sent, and
/// each answer goes to its caller by correlation id. Calls waiting longer than their timeout fail
/// (checked every `expiryInterval`).
private final class ProposalStream: Sendable {
    package let answers = PendingAnswers<Protos_ProposalResponse>()
    private let outgoing: AsyncStream<Medrex_EndorsementRequest>.Continuation
    private let peer: String
    package static let expiryInterval = Duration.seconds(1)

    private init(outgoing: AsyncStream<Medrex_EndorsementRequest>.Continuation, peer: String) {
        self.outgoing = outgoing
        self.peer = peer
    }

    package static func open(on client: GRPCClient<HTTP2ClientTransport.Posix>, peer: String) -> ProposalStream {
        let (requests, outgoing) = AsyncStream.makeStream(of: Medrex_EndorsementRequest.self)
        let stream = ProposalStream(outgoing: outgoing, peer: peer)
        // No timeout for the stream itself: each call has its own (`expire`).
        let options = CallOptions.failingFast(timeout: nil)
        Task {
            do {
                try await Medrex_EndorsementStream.Client(wrapping: client).processProposals(options: options) { writer in
                    for await request in requests { try await writer.write(request) }
                } onResponse: { response in
                    for try await answer in response.messages { stream.answers.deliver(answer.response, to: answer.correlationID) }
                }
                stream.answers.close(RPCError(code: .unavailable, message: "the endorsement stream to \(peer) ended"))
            } catch {
                stream.answers.close(error)
            }
            outgoing.finish()
        }
        Task { [weak stream] in
            while true {
                try? await Task.sleep(for: expiryInterval)
                guard let stream, !stream.answers.isClosed else { return }
                stream.answers.expire(message: "\(peer) did not answer a proposal in time")
            }
        }
        return stream
    }

    package func send(_ proposal: Protos_SignedProposal, timeout: Duration) async throws -> Protos_ProposalResponse {
        try await answers.call(timeout: timeout) { id in
            var request = Medrex_EndorsementRequest()
            request.correlationID = id
            request.proposal = proposal
            outgoing.yield(request)
        }
    }

    /// Ends the stream; waiting calls fail.
    package func finish() {
        outgoing.finish()
        answers.close(RPCError(code: .unavailable, message: "the connection to \(peer) was closed"))
    }
}

extension CallOptions {
    /// Options of the calls to other peers' endorsers: they fail at once when the peer cannot be
    /// reached, instead of waiting for a connection (the gateway then asks the organization's
    /// next peer), and end after `timeout`, connecting included.
    package static func failingFast(timeout: Duration?) -> CallOptions {
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        return options
    }
}
