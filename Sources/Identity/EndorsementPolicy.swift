/// An endorsement policy in Fabric's signature-policy form: principals combined with `AND`, `OR`
/// and `OutOf(n, ...)`. `AND` of k policies is `OutOf(k, ...)` and `OR` is `OutOf(1, ...)`.
package indirect enum EndorsementPolicy: Sendable, Hashable, CustomStringConvertible {
    case signedBy(PolicyPrincipal)
    /// Satisfied when at least `count` of the sub-policies are, each by different identities.
    case outOf(count: Int, [EndorsementPolicy])

    package static func and(_ policies: [EndorsementPolicy]) -> EndorsementPolicy { .outOf(count: policies.count, policies) }
    package static func or(_ policies: [EndorsementPolicy]) -> EndorsementPolicy { .outOf(count: 1, policies) }

    /// Parses Fabric's syntax plus attribute principals; see `EndorsementPolicyParser`.
    package static func parse(_ text: String) throws(PolicyParseError) -> EndorsementPolicy {
        var parser = EndorsementPolicyParser(text)
        return try parser.parse()
    }

    /// Every MSP id a principal of the policy names.
    package var mspIDs: Set<String> {
        switch self {
        case .signedBy(let principal): [principal.mspID]
        case .outOf(_, let policies): policies.reduce(into: []) { $0.formUnion($1.mspIDs) }
        }
    }

    /// Canonical Fabric syntax; `parse(description)` gives back an equal policy.
    package var description: String {
        switch self {
        case .signedBy(let principal):
            return principal.description
        case .outOf(let count, let policies):
            let inner = policies.map(\.description).joined(separator: ", ")
            if count == policies.count { return "AND(\(inner))" }
            if count == 1 { return "OR(\(inner))" }
            return "OutOf(\(count), \(inner))"
        }
    }
}
