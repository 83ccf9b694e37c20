import GRPCCore
import LedgerCore

/// Every failure the etcd client reports: a code to branch on and a message for people.
package struct EtcdError: LedgerError {
    /// What went wrong, coarsely enough to decide what to do next.
    package enum Code: String, DomainErrorCode {
        /// No endpoint answered: every member tried was down, unreachable, or without a leader.
        case unavailable
        /// A call took longer than its timeout. A write may or may not have been applied.
        case timeout
        /// The revision asked for was compacted away; the message names the oldest revision kept.
        case compacted
        /// The lease expired or was revoked: keys attached to it are gone.
        case leaseExpired
        /// etcd knows no lease with the id given.
        case leaseNotFound
        /// etcd answered something the client cannot make sense of.
        case malformedResponse
        /// The caller passed something unusable (a malformed endpoint, an empty key ...).
        case invalidArgument
        /// etcd refused the request for another reason (the message has etcd's own words).
        case rejected
        /// The client was closed.
        case closed
    }

    package let code: Code
    package let message: String
    package let raisedAt: CodeLocation

    package init(_ code: Code, _ message: String, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.message = message
        raisedAt = CodeLocation(file: file, line: line)
    }

    package var reason: String { message }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

    package func hash(into hasher: inout Hasher) { hasher.combine(code) }

    package var description: String { "etcd \(code.rawValue): \(message) (\(raisedAt))" }
}

extension EtcdError {
    /// Translates a failed call's gRPC status into the client's terms. `call` names the operation.
    init(_ error: RPCError, during call: String) {
        let detail = "\(call): \(error.message.isEmpty ? "\(error.code)" : error.message)"
        switch error.code {
        case .unavailable:
            self.init(.unavailable, detail)
        case .deadlineExceeded:
            self.init(.timeout, detail)
        case .outOfRange where error.message.contains("compacted"):
            // etcd reports reads below the compacted revision as OUT_OF_RANGE.
            self.init(.compacted, detail)
        case .notFound where error.message.contains("lease"):
            self.init(.leaseNotFound, detail)
        default:
            self.init(.rejected, "\(detail) (gRPC status \(error.code))")
        }
    }
}
