import LedgerCore

/// Why a policy text did not parse: a code to branch on, the 1-based position in the text where the
/// problem was found, a reason naming what was expected there, and where in our source it was raised.
/// Policy texts name MSPs, roles and attribute conditions, never patient data, so the reason may
/// quote the offending text.
package struct PolicyParseError: LedgerError {
    package enum Code: String, DomainErrorCode {
        case empty
        case tooLong
        case tooDeep
        case unexpectedCharacter
        case unexpectedEnd
        case unknownOperator
        case unknownRole
        case badPrincipal
        case badCount
        case duplicateAttribute
        case trailingInput
    }

    package let code: Code
    /// 1-based position in Unicode scalars (characters, for the ASCII that policies are written in).
    package let position: Int
    package let reason: String
    package let file: String
    package let line: UInt

    package init(code: Code, position: Int, reason: String, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.position = position
        self.reason = reason
        self.file = file
        self.line = line
    }

    package var raisedAt: CodeLocation { CodeLocation(file: file, line: line) }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

    package func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// `policy error at position 14: expected ',' or ')' but found 'x' (Identity/EndorsementPolicyParser.swift:88)`
    package var description: String { "policy error at position \(position): \(reason) (\(raisedAt))" }
}
