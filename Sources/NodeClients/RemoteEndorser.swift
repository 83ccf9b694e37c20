import Endorser
import LedgerWire

/// What the gateway asks a peer of another organization: to endorse a proposal. Over the network
/// an `EndorserConnection`; in the same process (tests, the simulation) an `InProcessEndorser`.
package protocol RemoteEndorser: Sendable, CustomStringConvertible {
    /// The peer's signed response (a refusal is a response with status 400 or more); throws when
    /// the peer could not be asked within `timeout`.
    func processProposal(_ proposal: Protos_SignedProposal, timeout: Duration) async throws -> Protos_ProposalResponse

    /// Releases the connection (on shutdown); later proposals fail.
    func close()
}

/// An endorser in the same process, asked directly.
package struct InProcessEndorser: RemoteEndorser {
    package let name: String
    private let endorser: @Sendable () throws -> EndorsementService

    /// `endorser` gives the peer's current endorsement service, or throws when the peer is down.
    package init(name: String, endorser: @escaping @Sendable () throws -> EndorsementService) {
        self.name = name
        self.endorser = endorser
    }

    package var description: String { "endorser \(name) (in process)" }

    package func processProposal(_ proposal: Protos_SignedProposal, timeout: Duration) async throws -> Protos_ProposalResponse {
        try endorser().processProposal(proposal)
    }

    package func close() {}
}
