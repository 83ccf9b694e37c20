import LedgerCore

/// An error of the network fuzzer: a code to branch on, a reason that tells the operator what to
/// do, and where it was raised. Equality compares the code only.
package typealias NetworkFuzzError = DomainError<NetworkFuzzErrorCode>

/// The codes of `NetworkFuzzError`.
package enum NetworkFuzzErrorCode: String, DomainErrorCode {
    /// The configuration cannot work (no node, no bound, an unreadable file).
    case invalidConfiguration
    /// A recorded request file cannot be parsed.
    case malformedRecording
    /// A node died or stopped answering well-formed requests.
    case nodeFailed
}
