/// An error from the ordering service: a code, a reason for the operator or client, and where it
/// was raised.
package struct OrdererError: Error, Hashable, CustomStringConvertible {
    package enum Code: String, Sendable, Hashable {
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

    package let code: Code
    package let reason: String
    package let file: String
    package let line: UInt

    package init(_ code: Code, _ reason: String, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    package var description: String { "\(code.rawValue): \(reason)" }
}
