import Endorser
import GRPCCore
import LedgerWire

/// Fabric's `protos.Endorser/ProcessProposal` over gRPC. Refusals are proposal responses with a
/// status (as in Fabric), not gRPC errors.
struct EndorserRPCService: Protos_Endorser.SimpleServiceProtocol {
    /// The endorser as of the call (it changes when the peer joins a channel).
    let endorser: @Sendable () -> EndorsementService
    let metrics: PeerMetrics

    func processProposal(request: Protos_SignedProposal, context: ServerContext) async throws -> Protos_ProposalResponse {
        let response = endorser().processProposal(request)
        metrics.countProposal(status: response.response.status)
        return response
    }
}
