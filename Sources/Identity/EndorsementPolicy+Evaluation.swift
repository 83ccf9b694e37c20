extension EndorsementPolicy {
    /// Most search steps (principal or sub-policy attempts) one evaluation may take before it
    /// answers "not satisfied". Real policies and signer sets (a handful of principals and
    /// endorsements) finish in far fewer; the bound only stops a crafted
    /// policy from costing unbounded time. The search is deterministic and independent of the
    /// signers' order, so every peer reaches the same answer, even when the budget runs out.
    package static let evaluationStepsMax = 100_000

    /// True when distinct signers can be assigned to principals so that the policy holds.
    ///
    /// Signers are de-duplicated by `identityID` first (an identity that signed twice counts once),
    /// and one identity satisfies at most one principal in the whole policy: `AND('A.peer',
    /// 'A.peer')` needs two different A peers. Unlike Fabric's greedy evaluation, this searches the
    /// assignments, so signatures that can satisfy the policy always do, whichever order they come
    /// in (e.g. `OutOf(2, 'A.member', 'A.peer')` with an A peer and an A client). Answers false for
    /// an `outOf` with a count below 1, and when the search exceeds `evaluationStepsMax` steps.
    package func isSatisfied(by signers: [PolicySigner]) -> Bool {
        satisfyingAssignment(from: signers) != nil
    }

    /// One set of distinct signers that satisfies the policy, each assigned to one principal, in
    /// `identityID` order; nil when `isSatisfied(by:)` is false.
    package func satisfyingAssignment(from signers: [PolicySigner]) -> [PolicySigner]? {
        evaluate(signers, stepsMax: Self.evaluationStepsMax).assignment
    }

    /// The search behind `isSatisfied(by:)`, with its step count for tests.
    func evaluate(_ signers: [PolicySigner], stepsMax: Int) -> (assignment: [PolicySigner]?, stepsUsed: Int) {
        var numbers: [PolicyPrincipal: Int] = [:]
        let root = PolicySearch.Node(self, principals: &numbers)
        let principals = numbers.sorted { $0.value < $1.value }.map(\.key)
        let classes = PolicySearch.signerClasses(signers, principals: principals)
        var search = PolicySearch(root: root, classes: classes, stepsMax: stepsMax)
        let assignment = search.run()
        return (assignment, stepsMax - search.stepsLeft)
    }
}
