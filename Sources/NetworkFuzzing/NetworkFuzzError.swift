/// An error of the network fuzzer: a code to branch on, a reason that tells the operator what to
/// do, and where it was raised. Equality compares the code only.
package struct NetworkFuzzError: Error, Hashable, CustomStringConvertible {
    package enum Code: String, Sendable, Hashable {
        /// The configuration cannot work (no node, no bound, an unreadable file).
        case invalidConfiguration
        /// A recorded request file cannot be parsed.
        case malformedRecording
        /// A node died or stopped answering well-formed requests.
        case nodeFailed
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

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    package func hash(into hasher: inout Hasher) { hasher.combine(code) }

    package var description: String { "\(code.rawValue): \(reason) (\(file):\(line))" }
}
