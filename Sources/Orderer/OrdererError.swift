import LedgerCore

/// An error from the ordering service: a code, a reason for the operator or client, and where it
/// was raised.
package typealias OrdererError = DomainError<OrdererErrorCode>

/// The codes of `OrdererError`.
package enum OrdererErrorCode: String, DomainErrorCode {
    case envelopeTooLarge
    /// The chain stopped serving (the orderer is shutting down).
    case unavailable
    /// A block in the replicated log does not follow the orderer's chain (wrong number, previous
    /// hash or data hash, or undecodable).
    case logInconsistent
    /// Blocks this orderer still needs were compacted out of the replicated log and could not be
    /// fetched from another orderer.
    case compactedAway
}
