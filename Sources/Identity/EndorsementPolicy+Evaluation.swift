extension EndorsementPolicy {
    /// Most search steps one evaluation may take before it answers "not satisfied". Policies and
    /// signer sets are small (a handful of principals and endorsements), far below this bound; it
    /// only stops a crafted policy from costing unbounded time. The search is deterministic, so
    /// every peer reaches the same answer.
    package static let evaluationStepsMax = 100_000

    /// True when distinct signers can be assigned to principals so that the policy holds. Signers
    /// are de-duplicated by identity first, and one identity satisfies at most one principal.
    ///
    /// Unlike Fabric's greedy evaluation, this searches the assignments, so a set of signatures
    /// that can satisfy the policy always does (e.g. `OutOf(2, 'A.member', 'A.peer')` with an A peer
    /// and an A client, whichever is tried first).
    package func isSatisfied(by signers: [PolicySigner]) -> Bool {
        satisfyingAssignment(from: signers) != nil
    }

    /// One set of signers that satisfies the policy (each used once), or nil.
    package func satisfyingAssignment(from signers: [PolicySigner]) -> [PolicySigner]? {
        let candidates = relevantSigners(signers)
        var search = PolicySearch(signers: candidates)
        guard let used = search.satisfy(self, used: 0, then: { used, _ in used }) else { return nil }
        return candidates.indices.filter { used & (1 << UInt64($0)) != 0 }.map { candidates[$0] }
    }

    /// Distinct signers that match at least one principal, in a fixed order, at most 64 of them.
    private func relevantSigners(_ signers: [PolicySigner]) -> [PolicySigner] {
        var seen: Set<String> = []
        let principals = self.principals
        let distinct = signers
            .filter { signer in principals.contains { $0.isSatisfied(by: signer) } }
            .sorted { $0.identityID < $1.identityID }
            .filter { seen.insert($0.identityID).inserted }
        return Array(distinct.prefix(64))
    }

    private var principals: [PolicyPrincipal] {
        switch self {
        case .signedBy(let principal): [principal]
        case .outOf(_, let policies): policies.flatMap(\.principals)
        }
    }
}

/// Backtracking search over assignments of signers (a bit set of used signers) to principals.
private struct PolicySearch {
    let signers: [PolicySigner]
    var stepsLeft = EndorsementPolicy.evaluationStepsMax

    typealias Continuation = (UInt64, inout PolicySearch) -> UInt64?

    /// Satisfies `policy` without reusing `used` signers, then runs `then` with the extended set;
    /// tries the next alternative whenever `then` fails. Returns the final set or nil.
    mutating func satisfy(_ policy: EndorsementPolicy, used: UInt64, then: Continuation) -> UInt64? {
        stepsLeft -= 1
        guard stepsLeft > 0 else { return nil }
        switch policy {
        case .signedBy(let principal):
            for index in signers.indices where used & (1 << UInt64(index)) == 0 && principal.isSatisfied(by: signers[index]) {
                if let result = then(used | (1 << UInt64(index)), &self) { return result }
            }
            return nil
        case .outOf(let count, let policies):
            return choose(policies[...], needed: count, used: used, then: then)
        }
    }

    /// Satisfies `needed` of `policies` (in order, each at most once), then runs `then`.
    private mutating func choose(_ policies: ArraySlice<EndorsementPolicy>, needed: Int, used: UInt64, then: Continuation) -> UInt64? {
        if needed <= 0 { return then(used, &self) }
        guard let first = policies.first, policies.count >= needed else { return nil }
        let rest = policies.dropFirst()
        let taken = satisfy(first, used: used) { afterFirst, search in
            search.choose(rest, needed: needed - 1, used: afterFirst, then: then)
        }
        if let taken { return taken }
        stepsLeft -= 1
        guard stepsLeft > 0 else { return nil }
        return choose(rest, needed: needed, used: used, then: then)
    }
}
