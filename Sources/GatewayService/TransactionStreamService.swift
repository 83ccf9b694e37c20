import Foundation
import GRPCCore
import LedgerCore
import LedgerWire
import RPCTransport
import SwiftProtobuf
import Committer
import NodeClients

/// Medrex's streaming transaction API (`medrex.TransactionStream/Transact`): the gateway's steps
/// for many transactions on one bidirectional stream. Each request is handled concurrently (at
/// most `Limits.streamedTransactionsInFlightMax` per stream); answers are written as they are
/// ready, each naming the client's correlation id.
package struct TransactionStreamService: Medrex_TransactionStream.SimpleServiceProtocol {
    /// The gateway as of the call (it changes when the peer joins a channel).
    package let current: @Sendable () -> Gateway
    package var gateway: Gateway { current() }

    /// Fires when the peer begins to shut down: the stream ends once what it has read is answered.
    package let shutdown: ShutdownSignal

    package init(gateway: @escaping @Sendable () -> Gateway, shutdown: ShutdownSignal) {
        current = gateway
        self.shutdown = shutdown
    }

    package func transact(
        request: RPCAsyncSequence<Medrex_TransactRequest, any Error>, response: RPCWriter<Medrex_TransactResponse>, context: ServerContext
    ) async throws {
        try await StreamedCalls.serve(request, answers: response, inFlightMax: Limits.streamedTransactionsInFlightMax, shutdown: shutdown) { step in
            await handle(step)
        }
    }

    private func handle(_ step: Medrex_TransactRequest) async -> Medrex_TransactResponse {
        var answer = Medrex_TransactResponse()
        answer.correlationID = step.correlationID
        do {
            switch step.step {
            case .proposal(let proposal):
                answer.transactionID = (try? GatewayClient.transactionID(of: proposal)) ?? ""
                let (transaction, result) = try await gateway.endorse(proposal, channelID: step.channelID)
                var prepared = Medrex_Prepared()
                prepared.transaction = transaction
                prepared.result = result.payload
                answer.prepared = prepared
            case .signedTransaction(let envelope):
                let transactionID = try TransactionEnvelope(envelope: envelope).channelHeader.txID
                answer.transactionID = transactionID
                try await gateway.submit(envelope, channelID: step.channelID)
                guard let outcome = try await gateway.outcome(of: transactionID, channelID: step.channelID) else {
                    throw RPCError(code: .unavailable, message: "the peer stopped before transaction \(transactionID) committed")
                }
                var committed = Medrex_Committed()
                committed.code = outcome.validationCode
                committed.blockNumber = outcome.blockNumber
                answer.committed = committed
            case .none:
                throw RPCError(code: .invalidArgument, message: "a request must hold a proposal or a signed transaction")
            }
        } catch {
            let rpcError = RPCError(gatewayError: error)
            var failure = Medrex_Failure()
            failure.code = Int32(rpcError.code.rawValue)
            failure.message = rpcError.message
            answer.failure = failure
        }
        return answer
    }
}
