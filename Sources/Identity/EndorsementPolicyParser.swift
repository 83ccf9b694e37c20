import LedgerCore

/// Parses endorsement policies in Fabric's syntax:
///
///     policy    := principal | operator
///     operator  := ("AND" | "OR") "(" policy ("," policy)* ")"
///                | "OutOf" "(" integer "," policy ("," policy)* ")"
///     principal := quote MSP "." role [ "[" name "=" value ("," name "=" value)* "]" ] quote
///
/// Operator names are case-insensitive; quotes are `'` or `"`; whitespace may separate tokens.
/// The role is the text after the last dot (`member`, `admin`, `client`, `peer`, `orderer`), so MSP
/// ids may contain dots. Inputs over `Limits.policyTextBytesMax` bytes or nested deeper than
/// `Limits.policyNestingDepthMax` are refused.
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
            throw PolicyParseError(code: .tooLong, position: 1, reason: "policy is longer than \(Limits.policyTextBytesMax) bytes")
        }
        skipWhitespace()
        guard index < scalars.count else {
            throw PolicyParseError(code: .empty, position: 1, reason: "expected a policy but the text is empty")
        }
        let policy = try parsePolicy(depth: 1)
        skipWhitespace()
        if index < scalars.count {
            throw error(.trailingInput, "expected the end of the policy but found \(found)")
        }
        return policy
    }

    // MARK: - Grammar

    private mutating func parsePolicy(depth: Int) throws(PolicyParseError) -> EndorsementPolicy {
        guard depth <= Limits.policyNestingDepthMax else {
            throw error(.tooDeep, "policy is nested deeper than \(Limits.policyNestingDepthMax) levels")
        }
        skipWhitespace()
        guard let scalar = current else { throw error(.unexpectedEnd, "expected a quoted principal or AND, OR, OutOf but the policy ended") }
        if scalar == "'" || scalar == "\"" { return .signedBy(try parsePrincipal()) }
        guard isNameCharacter(scalar) else {
            throw error(.unexpectedCharacter, "expected a quoted principal or AND, OR, OutOf but found \(found)")
        }
        let nameStart = index
        let name = readWhile(isNameCharacter)
        switch name.lowercased() {
        case "and":
            let policies = try parseArguments(depth: depth)
            return .outOf(count: policies.count, policies)
        case "or":
            return .outOf(count: 1, try parseArguments(depth: depth))
        case "outof":
            return try parseOutOf(depth: depth)
        default:
            throw PolicyParseError(code: .unknownOperator, position: nameStart + 1, reason: "unknown operator '\(name)' (expected AND, OR or OutOf)")
        }
    }

    private mutating func parseOutOf(depth: Int) throws(PolicyParseError) -> EndorsementPolicy {
        try expect("(")
        skipWhitespace()
        let countStart = index
        let digits = readWhile { $0.properties.numericType == .decimal && $0.isASCII }
        guard let count = Int(digits) else { throw error(.badCount, "expected the OutOf count (a whole number) but found \(found)") }
        skipWhitespace()
        try expect(",")
        let policies = try parseList(depth: depth)
        guard count >= 1 else {
            throw PolicyParseError(code: .badCount, position: countStart + 1, reason: "OutOf count must be at least 1")
        }
        guard count <= policies.count else {
            throw PolicyParseError(code: .badCount, position: countStart + 1, reason: "OutOf count \(count) exceeds its \(policies.count) sub-policies")
        }
        return .outOf(count: count, policies)
    }

    private mutating func parseArguments(depth: Int) throws(PolicyParseError) -> [EndorsementPolicy] {
        try expect("(")
        return try parseList(depth: depth)
    }

    /// `policy ("," policy)* ")"`
    private mutating func parseList(depth: Int) throws(PolicyParseError) -> [EndorsementPolicy] {
        var policies = [try parsePolicy(depth: depth + 1)]
        while true {
            skipWhitespace()
            switch current {
            case ",":
                index += 1
                policies.append(try parsePolicy(depth: depth + 1))
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
        let start = index + 1
        index += 1
        guard let end = scalars[index...].firstIndex(of: quote) else {
            throw PolicyParseError(code: .unexpectedEnd, position: start, reason: "unterminated quote: expected a closing \(quote)")
        }
        let body = scalars[start..<end]
        index = end + 1
        return try principal(from: body, position: start + 1)
    }

    /// `MSP.role` or `MSP.role[name=value,...]`, positions reported relative to the whole text.
    private func principal(from body: ArraySlice<Unicode.Scalar>, position: Int) throws(PolicyParseError) -> PolicyPrincipal {
        var head = body
        var attributes: [String: String] = [:]
        if let open = body.firstIndex(of: "[") {
            guard body.last == "]" else {
                throw PolicyParseError(code: .badPrincipal, position: position + body.count, reason: "expected ']' to close the attribute conditions")
            }
            head = body[..<open]
            attributes = try parseAttributes(body[(open + 1)..<(body.endIndex - 1)], position: position + (open - body.startIndex) + 1)
        }
        guard let dot = head.lastIndex(of: "."), dot > head.startIndex else {
            throw PolicyParseError(code: .badPrincipal, position: position, reason: "expected a principal 'MSP.role' but found '\(string(body))'")
        }
        let mspID = string(head[..<dot])
        let roleText = string(head[(dot + 1)...])
        guard mspID.unicodeScalars.allSatisfy({ isNameCharacter($0) || $0 == "." }) else {
            throw PolicyParseError(code: .badPrincipal, position: position, reason: "MSP id '\(mspID)' may use letters, digits, '.', '-' and '_' only")
        }
        guard let kind = PolicyPrincipal.Kind(rawValue: roleText) else {
            throw PolicyParseError(code: .unknownRole, position: position + (dot - head.startIndex) + 1,
                                   reason: "unknown role '\(roleText)' (expected member, admin, client, peer or orderer)")
        }
        return PolicyPrincipal(mspID: mspID, kind: kind, attributes: attributes)
    }

    private func parseAttributes(_ text: ArraySlice<Unicode.Scalar>, position: Int) throws(PolicyParseError) -> [String: String] {
        var attributes: [String: String] = [:]
        var offset = 0
        for condition in text.split(separator: ",", omittingEmptySubsequences: false) {
            let conditionPosition = position + offset
            offset += condition.count + 1
            let parts = condition.split(separator: "=", omittingEmptySubsequences: false)
            let name = parts.first.map { string($0).trimmingWhitespace() } ?? ""
            guard parts.count == 2, !name.isEmpty, name.unicodeScalars.allSatisfy(isNameCharacter) else {
                throw PolicyParseError(code: .badPrincipal, position: conditionPosition, reason: "expected an attribute condition 'name=value' but found '\(string(condition))'")
            }
            let value = string(parts[1]).trimmingWhitespace()
            guard !value.isEmpty else {
                throw PolicyParseError(code: .badPrincipal, position: conditionPosition, reason: "attribute '\(name)' has an empty value")
            }
            guard attributes.updateValue(value, forKey: name) == nil else {
                throw PolicyParseError(code: .duplicateAttribute, position: conditionPosition, reason: "attribute '\(name)' is given twice")
            }
        }
        return attributes
    }

    // MARK: - Scanning

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private var found: String { current.map { "'\($0)'" } ?? "the end of the policy" }

    private func error(_ code: PolicyParseError.Code, _ reason: String) -> PolicyParseError {
        PolicyParseError(code: code, position: index + 1, reason: reason)
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

    private func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || scalar.properties.numericType != nil || scalar == "_" || scalar == "-")
    }

    private func string(_ slice: ArraySlice<Unicode.Scalar>) -> String {
        var text = ""
        text.unicodeScalars.append(contentsOf: slice)
        return text
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
