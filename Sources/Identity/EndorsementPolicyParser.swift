import LedgerCore

/// Parses endorsement policies in Fabric's syntax:
///
///     policy    := principal | operator
///     operator  := ("AND" | "OR") "(" policy ("," policy)* ")"
///                | "OutOf" "(" integer "," policy ("," policy)* ")"
///     principal := quote MSP "." role [ "[" condition ("," condition)* "]" ] quote
///     condition := name "=" value
///
/// Operator names are case-insensitive (`and`, `Or`, `OUTOF`); quotes are `'` or `"`; whitespace may
/// separate tokens, and surrounds attribute names and values freely. The role is the text after the
/// last dot (`member`, `admin`, `client`, `peer` or `orderer`), so MSP ids may contain dots
/// (`'Org1.example.com.member'`); MSP ids otherwise use ASCII letters, digits, `-` and `_`.
/// Attribute names use ASCII letters, digits, `_`, `.` and `-`; values are any non-empty text
/// without `,`, `]`, `=` or quotes, trimmed of surrounding whitespace. A name given twice is an error.
///
/// An `OutOf` count must be between 1 and the number of its sub-policies. Inputs over
/// `Limits.policyTextBytesMax` UTF-8 bytes, or with `AND` / `OR` / `OutOf` nested deeper than
/// `Limits.policyNestingDepthMax`, are refused; the depth bound also bounds the parser's recursion.
struct EndorsementPolicyParser {
    private let scalars: [Unicode.Scalar]
    private let byteCount: Int
    private var index = 0

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        byteCount = text.utf8.count
    }

    mutating func parse() throws(PolicyParseError) -> EndorsementPolicy {
        guard byteCount <= Limits.policyTextBytesMax else {
            throw PolicyParseError(
                code: .tooLong, position: 1,
                reason: "policy is \(byteCount) bytes, longer than the \(Limits.policyTextBytesMax) bytes allowed")
        }
        skipWhitespace()
        guard index < scalars.count else {
            throw PolicyParseError(code: .empty, position: 1, reason: "expected a policy but the text is empty")
        }
        let policy = try parsePolicy(enclosingOperators: 0)
        skipWhitespace()
        if index < scalars.count {
            throw error(.trailingInput, "expected the end of the policy but found \(found)")
        }
        return policy
    }

    // MARK: - Grammar

    private mutating func parsePolicy(enclosingOperators: Int) throws(PolicyParseError) -> EndorsementPolicy {
        skipWhitespace()
        guard let scalar = current else {
            throw error(.unexpectedEnd, "expected a quoted principal or AND, OR, OutOf but the policy ended")
        }
        if scalar == "'" || scalar == "\"" { return .signedBy(try parsePrincipal()) }
        guard isNameCharacter(scalar) else {
            throw error(.unexpectedCharacter, "expected a quoted principal or AND, OR, OutOf but found \(found)")
        }
        let nameStart = index
        let name = readWhile(isNameCharacter)
        let depth = enclosingOperators + 1
        guard depth <= Limits.policyNestingDepthMax else {
            throw PolicyParseError(
                code: .tooDeep, position: nameStart + 1,
                reason: "policy nests AND, OR and OutOf deeper than \(Limits.policyNestingDepthMax) levels")
        }
        switch name.lowercased() {
        case "and":
            let policies = try parseArguments(depth: depth)
            return .outOf(count: policies.count, policies)
        case "or":
            return .outOf(count: 1, try parseArguments(depth: depth))
        case "outof":
            return try parseOutOf(depth: depth)
        default:
            throw PolicyParseError(
                code: .unknownOperator, position: nameStart + 1, reason: "unknown operator '\(name)' (expected AND, OR or OutOf)")
        }
    }

    private mutating func parseOutOf(depth: Int) throws(PolicyParseError) -> EndorsementPolicy {
        try expect("(")
        skipWhitespace()
        let countStart = index
        let digits = readWhile { $0.isASCII && $0.properties.numericType == .decimal }
        guard !digits.isEmpty else {
            throw error(.badCount, "expected the OutOf count (a whole number) but found \(found)")
        }
        guard let count = Int(digits) else {
            throw PolicyParseError(code: .badCount, position: countStart + 1, reason: "OutOf count \(digits) is too large")
        }
        try expect(",")
        let policies = try parseList(depth: depth)
        guard count >= 1 else {
            throw PolicyParseError(code: .badCount, position: countStart + 1, reason: "OutOf count must be at least 1")
        }
        guard count <= policies.count else {
            throw PolicyParseError(
                code: .badCount, position: countStart + 1, reason: "OutOf count \(count) exceeds its \(policies.count) sub-policies")
        }
        return .outOf(count: count, policies)
    }

    private mutating func parseArguments(depth: Int) throws(PolicyParseError) -> [EndorsementPolicy] {
        try expect("(")
        return try parseList(depth: depth)
    }

    /// `policy ("," policy)* ")"`, each policy inside `depth` operators.
    private mutating func parseList(depth: Int) throws(PolicyParseError) -> [EndorsementPolicy] {
        var policies = [try parsePolicy(enclosingOperators: depth)]
        while true {
            skipWhitespace()
            switch current {
            case ",":
                index += 1
                policies.append(try parsePolicy(enclosingOperators: depth))
            case ")":
                index += 1
                return policies
            default:
                throw error(current == nil ? .unexpectedEnd : .unexpectedCharacter, "expected ',' or ')' but found \(found)")
            }
        }
    }

    private mutating func parsePrincipal() throws(PolicyParseError) -> PolicyPrincipal {
        let quote = scalars[index]
        let quotePosition = index + 1
        index += 1
        guard let end = scalars[index...].firstIndex(of: quote) else {
            throw PolicyParseError(code: .unexpectedEnd, position: quotePosition, reason: "unterminated quote: expected a closing \(quote)")
        }
        let body = scalars[index..<end]
        index = end + 1
        return try principal(from: body)
    }

    /// `MSP.role` or `MSP.role[name=value,...]`. Slices keep their indices into `scalars`, so a
    /// slice index plus one is the 1-based position in the whole text.
    private func principal(from body: ArraySlice<Unicode.Scalar>) throws(PolicyParseError) -> PolicyPrincipal {
        var head = body
        var attributes: [String: String] = [:]
        if let open = body.firstIndex(of: "[") {
            guard body.last == "]" else {
                throw PolicyParseError(
                    code: .badPrincipal, position: body.endIndex + 1, reason: "expected ']' to close the attribute conditions")
            }
            head = body[..<open]
            attributes = try parseAttributes(body[(open + 1)..<(body.endIndex - 1)])
        }
        guard let dot = head.lastIndex(of: "."), dot > head.startIndex else {
            throw PolicyParseError(
                code: .badPrincipal, position: body.startIndex + 1, reason: "expected a principal 'MSP.role' but found '\(string(body))'")
        }
        let mspID = head[..<dot]
        guard mspID.allSatisfy({ isNameCharacter($0) || $0 == "." }) else {
            throw PolicyParseError(
                code: .badPrincipal, position: body.startIndex + 1,
                reason: "MSP id '\(string(mspID))' may use letters, digits, '.', '-' and '_' only")
        }
        let roleText = string(head[(dot + 1)...])
        guard let kind = PolicyPrincipal.Kind(rawValue: roleText) else {
            throw PolicyParseError(
                code: .unknownRole, position: dot + 2,
                reason: "unknown role '\(roleText)' (expected member, admin, client, peer or orderer)")
        }
        return PolicyPrincipal(mspID: string(mspID), kind: kind, attributes: attributes)
    }

    /// `name=value,...` between the brackets of an attribute principal.
    private func parseAttributes(_ text: ArraySlice<Unicode.Scalar>) throws(PolicyParseError) -> [String: String] {
        var attributes: [String: String] = [:]
        for condition in text.split(separator: ",", omittingEmptySubsequences: false) {
            let (name, value) = try parseCondition(condition)
            guard attributes.updateValue(value, forKey: name) == nil else {
                throw PolicyParseError(
                    code: .duplicateAttribute, position: condition.startIndex + 1, reason: "attribute '\(name)' is given twice")
            }
        }
        return attributes
    }

    private func parseCondition(_ condition: ArraySlice<Unicode.Scalar>) throws(PolicyParseError) -> (name: String, value: String) {
        let name = trimmingWhitespace(condition.prefix { $0 != "=" })
        guard let equals = condition.firstIndex(of: "="), !name.isEmpty, name.allSatisfy(isAttributeNameCharacter) else {
            throw PolicyParseError(
                code: .badPrincipal, position: condition.startIndex + 1,
                reason: "expected an attribute condition 'name=value' (name of letters, digits, '_', '.', '-') but found '\(string(condition))'")
        }
        let value = trimmingWhitespace(condition[(equals + 1)...])
        if let bad = value.firstIndex(where: { "=]'\"".unicodeScalars.contains($0) }) {
            throw PolicyParseError(
                code: .badPrincipal, position: bad + 1, reason: "attribute '\(string(name))' has a value containing '\(value[bad])'")
        }
        guard !value.isEmpty else {
            throw PolicyParseError(code: .badPrincipal, position: equals + 2, reason: "attribute '\(string(name))' has an empty value")
        }
        return (string(name), string(value))
    }

    // MARK: - Scanning

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private var found: String { current.map { "'\($0)'" } ?? "the end of the policy" }

    private func error(_ code: PolicyParseError.Code, _ reason: String, file: String = #fileID, line: UInt = #line) -> PolicyParseError {
        PolicyParseError(code: code, position: index + 1, reason: reason, file: file, line: line)
    }

    private mutating func expect(_ scalar: Unicode.Scalar) throws(PolicyParseError) {
        skipWhitespace()
        guard current == scalar else {
            throw error(current == nil ? .unexpectedEnd : .unexpectedCharacter, "expected '\(scalar)' but found \(found)")
        }
        index += 1
    }

    private mutating func skipWhitespace() {
        while let scalar = current, scalar.properties.isWhitespace { index += 1 }
    }

    private mutating func readWhile(_ predicate: (Unicode.Scalar) -> Bool) -> String {
        let start = index
        while let scalar = current, predicate(scalar) { index += 1 }
        return string(scalars[start..<index])
    }

    /// Operator names and MSP ids: ASCII letters, digits, `_` and `-`.
    private func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || scalar.properties.numericType != nil || scalar == "_" || scalar == "-")
    }

    private func isAttributeNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        isNameCharacter(scalar) || scalar == "."
    }

    private func trimmingWhitespace(_ slice: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
        var trimmed = slice
        while let first = trimmed.first, first.properties.isWhitespace { trimmed = trimmed.dropFirst() }
        while let last = trimmed.last, last.properties.isWhitespace { trimmed = trimmed.dropLast() }
        return trimmed
    }

    private func string(_ slice: ArraySlice<Unicode.Scalar>) -> String {
        var text = ""
        text.unicodeScalars.append(contentsOf: slice)
        return text
    }
}
