import LedgerCore

/// Why the endorser refused a proposal. Reasons name fields, never argument values: proposal
/// arguments may carry PHI.
package typealias EndorserError = DomainError<EndorserErrorCode>

/// The codes of `EndorserError`.
package enum EndorserErrorCode: String, DomainErrorCode {
    /// The bytes are not a well-formed proposal (status 400).
    case malformedProposal
    /// The creator is not a valid member or the signature does not verify (status 403).
    case accessDenied
    /// The txid is not SHA-256 of nonce and creator (status 400).
    case badTransactionID
    /// The channel is not one this peer has joined (status 404).
    case unknownChannel
    /// The proposal's timestamp is too far from the peer's clock (status 400).
    case timestampOutOfRange
    /// The chaincode is not defined on the channel (status 404).
    case unknownChaincode
    /// A transaction with this txid is already committed (status 409).
    case duplicateTransaction
    /// Simulation failed outside the chaincode's own answer: storage, limits (status 500).
    case simulationFailed
    /// A system chaincode query found nothing (a block or transaction not committed; status 404).
    case notFound
}

extension DomainError where C == EndorserErrorCode {
    /// The proposal response status of the refusal (as Fabric's endorser answers).
    package var status: Int32 {
        switch code {
        case .malformedProposal, .badTransactionID, .timestampOutOfRange: 400
        case .accessDenied: 403
        case .unknownChannel, .unknownChaincode, .notFound: 404
        case .duplicateTransaction: 409
        case .simulationFailed: 500
        }
    }
}
