import Endorser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Identity
import LedgerWire
import RPCTransport
import Synchronization

/// A client of `medrex.TransactionStream`: many concurrent transactions over one bidirectional
/// stream. `transact` endorses (answer: the transaction to sign), signs, orders and waits for the
/// commit, exchanging two messages each way per transaction.
package final class TransactionStreamClient: Sendable {
    /// What happened to one transaction.
    package struct Outcome: Sendable {
        package let transactionID: String
        package let code: Protos_TxValidationCode
        package let blockNumber: UInt64
        /// When the prepared transaction came back (endorsement done) and when the commit did.
        package let endorsed: ContinuousClock.Instant
        package let committed: ContinuousClock.Instant

        package init(
            transactionID: String, code: Protos_TxValidationCode, blockNumber: UInt64, endorsed: ContinuousClock.Instant, committed: ContinuousClock.Instant
        ) {
            self.transactionID = transactionID
            self.code = code
            self.blockNumber = blockNumber
            self.endorsed = endorsed
            self.committed = committed
        }
    }

    private let signer: SigningIdentity
    private let outgoing: AsyncStream<Medrex_TransactRequest>.Continuation
    private let pending = PendingAnswers<Medrex_TransactResponse>()

    private init(signer: SigningIdentity, outgoing: AsyncStream<Medrex_TransactRequest>.Continuation) {
        self.signer = signer
        self.outgoing = outgoing
    }

    /// Opens the stream on one connection to the peer and keeps it while `body` runs.
    package static func withStream<Result: Sendable>(
        host: String, port: Int, tls: MutualTLS, signer: SigningIdentity, _ body: @Sendable (TransactionStreamClient) async throws -> Result
    ) async throws -> Result {
        let (requests, outgoing) = AsyncStream.makeStream(of: Medrex_TransactRequest.self)
        let client = TransactionStreamClient(signer: signer, outgoing: outgoing)
        return try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: host, port: port), transportSecurity: tls.clientSecurity)) { grpc in
            let service = Medrex_TransactionStream.Client(wrapping: grpc)
            return try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask {
                    do {
                        try await service.transact { writer in
                            for await request in requests { try await writer.write(request) }
                        } onResponse: { response in
                            for try await answer in response.messages { client.pending.deliver(answer, to: answer.correlationID) }
                        }
                        client.pending.close(RPCError(code: .unavailable, message: "the transaction stream ended"))
                    } catch {
                        client.pending.close(error)
                    }
                    return nil
                }
                defer { outgoing.finish() }
                let result = try await body(client)
                outgoing.finish()
                while let next = try await group.next() { if let next { return next } }
                return result
            }
        }
    }

    /// Whether the stream has ended (the peer went away or closed it): every later call fails.
    package var hasEnded: Bool { pending.isClosed }

    /// Endorses, signs, orders and waits for `proposal`'s transaction.
    package func transact(channel: String, proposal: Protos_SignedProposal) async throws -> Outcome {
        var request = Medrex_TransactRequest()
        request.channelID = channel
        request.proposal = proposal
        let prepared = try await exchange(request)
        let endorsed = ContinuousClock.now
        guard case .prepared(let transaction) = prepared.outcome else { throw Self.failure(prepared) }
        var envelope = transaction.transaction
        envelope.signature = Data(try signer.sign(envelope.payload))
        return try await submit(channel: channel, envelope: envelope, endorsed: endorsed)
    }

    /// Orders a signed transaction on the stream and waits for its outcome; a refusal throws the
    /// `RPCError` the unary Gateway call would.
    package func submit(channel: String, envelope: Common_Envelope, endorsed: ContinuousClock.Instant = .now) async throws -> Outcome {
        var submit = Medrex_TransactRequest()
        submit.channelID = channel
        submit.signedTransaction = envelope
        let committed = try await exchange(submit)
        guard case .committed(let outcome) = committed.outcome else { throw Self.failure(committed) }
        return Outcome(
            transactionID: committed.transactionID, code: outcome.code, blockNumber: outcome.blockNumber, endorsed: endorsed, committed: .now)
    }

    private static func failure(_ answer: Medrex_TransactResponse) -> RPCError {
        guard case .failure(let failure) = answer.outcome else {
            return RPCError(code: .internalError, message: "unexpected answer for transaction \(answer.transactionID)")
        }
        let code = Status.Code(rawValue: Int(failure.code)).flatMap { RPCError.Code($0) } ?? .unknown
        return RPCError(code: code, message: failure.message)
    }

    private func exchange(_ request: Medrex_TransactRequest) async throws -> Medrex_TransactResponse {
        try await pending.call { id in
            var request = request
            request.correlationID = id
            outgoing.yield(request)
        }
    }
}
