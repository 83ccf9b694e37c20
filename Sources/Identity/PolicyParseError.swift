/// Why a policy text did not parse: a code, the 1-based character position where the problem was
/// found, and what was expected there.
package struct PolicyParseError: Error, Hashable, CustomStringConvertible {
    package enum Code: String, Sendable, Hashable {
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
    /// 1-based position in characters (Unicode scalars) of the text.
    package let position: Int
    package let reason: String

    package var description: String { "policy error at position \(position): \(reason)" }
}
