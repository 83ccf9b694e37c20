import LedgerCore

/// A configuration error that names the file, the line and the field, so an operator can go
/// straight to the mistake: `network.yaml:42: organizations[1].peers[0].port: expected an integer`.
package struct ConfigError: LedgerError {
    package enum Code: String, DomainErrorCode {
        case unreadable
        case syntax
        case missingField
        case wrongType
        case invalidValue
        case unknownField
        case duplicate
        case outputExists
        case writeFailed
    }

    package let code: Code
    package let file: String
    /// 1-based line of the offending node; nil when the problem is not tied to one line.
    package let line: Int?
    /// Dotted path of the field, e.g. `organizations[1].peers[0].port`; empty for the whole file.
    package let field: String
    package let reason: String
    /// Where in Medrex's source the error was raised (the configuration's own place is `file`, `line`, `field`).
    package let raisedAt: CodeLocation

    package init(_ code: Code, file: String, line: Int?, field: String, reason: String, sourceFile: String = #fileID, sourceLine: UInt = #line) {
        self.code = code
        self.file = file
        self.line = line
        self.field = field
        self.reason = reason
        raisedAt = CodeLocation(file: sourceFile, line: sourceLine)
    }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

    package func hash(into hasher: inout Hasher) { hasher.combine(code) }

    package var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return (field.isEmpty ? "\(location): \(reason)" : "\(location): \(field): \(reason)") + " (\(raisedAt))"
    }
}
