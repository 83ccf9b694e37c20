/// An endorsement policy in Fabric's signature-policy form: principals combined with `AND`, `OR`
/// and `OutOf(n, ...)`. `AND` of k policies is `OutOf(k, ...)` and `OR` is `OutOf(1, ...)`.
///
/// Build policies with `parse(_:)`, `and(_:)` and `or(_:)`, which only make well-formed ones. An
/// `outOf` whose count is below 1 or above its number of sub-policies cannot be parsed and is never
/// satisfied (see `isSatisfied(by:)`).
package indirect enum EndorsementPolicy: Sendable, Hashable, CustomStringConvertible {
    case signedBy(PolicyPrincipal)
    /// Satisfied when at least `count` of the sub-policies are, each by different identities.
    case outOf(count: Int, [EndorsementPolicy])

    /// All of `policies`, which must not be empty.
    package static func and(_ policies: [EndorsementPolicy]) -> EndorsementPolicy {
        precondition(!policies.isEmpty, "AND needs at least one sub-policy")
        return .outOf(count: policies.count, policies)
    }

    /// Any one of `policies`, which must not be empty.
    package static func or(_ policies: [EndorsementPolicy]) -> EndorsementPolicy {
        precondition(!policies.isEmpty, "OR needs at least one sub-policy")
        return .outOf(count: 1, policies)
    }

    /// Parses Fabric's syntax plus attribute principals; see `EndorsementPolicyParser` for the
    /// grammar and `PolicyParseError` for what a refusal reports.
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

    /// Canonical Fabric syntax: `AND(...)` when every sub-policy is needed, `OR(...)` when one is,
    /// `OutOf(n, ...)` otherwise, `", "` between arguments, principals as `PolicyPrincipal` prints
    /// them. `parse(description)` gives back an equal policy for every parsed policy.
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
