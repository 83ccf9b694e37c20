import Endorser
import GRPCCore
import LedgerCore
import LedgerWire
import RPCTransport
import Committer
import GatewayService
import NodeClients
import PhiService

/// Fabric's `protos.Endorser/ProcessProposal` over gRPC. Refusals are proposal responses with a
/// status (as in Fabric), not gRPC errors.
package struct EndorserRPCService: Protos_Endorser.SimpleServiceProtocol {
    /// The endorser as of the call (it changes when the peer joins a channel).
    package let endorser: @Sendable () -> EndorsementService
    package let metrics: PeerMetrics
    /// Fabric's system chaincodes (qscc, cscc): an answer for a proposal to one of them, nil otherwise.
    package var systemChaincodes: @Sendable (Protos_SignedProposal) -> Protos_ProposalResponse? = { _ in nil }

    package func processProposal(request: Protos_SignedProposal, context: ServerContext) async throws -> Protos_ProposalResponse {
        endorse(request)
    }

    package func endorse(_ proposal: Protos_SignedProposal) -> Protos_ProposalResponse {
        let response = systemChaincodes(proposal) ?? endorser().processProposal(proposal)
        metrics.countProposal(status: response.response.status)
        return response
    }
}

/// Medrex's `medrex.EndorsementStream/ProcessProposals`: the same endorsements for other peers'
/// gateways, many proposals on one stream (`EndorserConnection` uses it), each handled
/// concurrently and answered under its correlation id.
package struct EndorsementStreamService: Medrex_EndorsementStream.SimpleServiceProtocol {
    package let endorser: EndorserRPCService
    package let shutdown: ShutdownSignal

    package func processProposals(
        request: RPCAsyncSequence<Medrex_EndorsementRequest, any Error>, response: RPCWriter<Medrex_EndorsementResponse>, context: ServerContext
    ) async throws {
        try await StreamedCalls.serve(request, answers: response, inFlightMax: Limits.streamedTransactionsInFlightMax, shutdown: shutdown) { request in
            var answer = Medrex_EndorsementResponse()
            answer.correlationID = request.correlationID
            answer.response = endorser.endorse(request.proposal)
            return answer
        }
    }
}
