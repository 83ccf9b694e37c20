import Endorser
import GRPCCore
import LedgerWire

/// Fabric's `protos.Endorser/ProcessProposal` over gRPC. Refusals are proposal responses with a
/// status (as in Fabric), not gRPC errors.
struct EndorserRPCService: Protos_Endorser.SimpleServiceProtocol {
    let endorser: EndorsementService

    func processProposal(request: Protos_SignedProposal, context: ServerContext) async throws -> Protos_ProposalResponse {
        endorser.processProposal(request)
    }
}
