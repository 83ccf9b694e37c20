/// An error from the ledger's core helpers: a code to branch on, a reason that helps the operator,
/// and where it was raised. Never carries PHI: reasons name fields and sizes, not values.
package struct LedgerCoreError: Error, Hashable, CustomStringConvertible {
    package enum Code: String, Sendable, Hashable {
        case malformedMessage
        case missingField
        case limitExceeded
        case encodingFailed
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

    package var description: String { "\(code.rawValue): \(reason) (\(file):\(line))" }
}
