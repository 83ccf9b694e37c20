/// Backtracking search for an assignment of distinct signers to the principals of a policy.
///
/// Signers that match exactly the same principals are interchangeable, so the search assigns
/// principals to classes of such signers, counting how many of each class are in use, rather than to
/// individual signers. That keeps symmetric cases (`AND` of many equal principals) linear; what is
/// left is bounded by a step budget.
struct PolicySearch {
    /// A policy whose principals are numbered: equal principals get the same number, so a signer
    /// is matched against each distinct principal once.
    enum Node {
        case principal(Int)
        case outOf(count: Int, [Node])

        init(_ policy: EndorsementPolicy, principals: inout [PolicyPrincipal: Int]) {
            switch policy {
            case .signedBy(let principal):
                let number = principals[principal] ?? principals.count
                principals[principal] = number
                self = .principal(number)
            case .outOf(let count, let policies):
                self = .outOf(count: count, policies.map { Node($0, principals: &principals) })
            }
        }
    }

    /// Distinct signers that match the same principals.
    struct SignerClass {
        /// `matches[principal]` is true when the class's signers satisfy that principal.
        let matches: [Bool]
        var signers: [PolicySigner]
    }

    let root: Node
    let classes: [SignerClass]
    /// How many signers of each class the partial assignment uses.
    private var usedCounts: [Int]
    private(set) var stepsLeft: Int

    init(root: Node, classes: [SignerClass], stepsMax: Int) {
        self.root = root
        self.classes = classes
        self.usedCounts = Array(repeating: 0, count: classes.count)
        self.stepsLeft = stepsMax
    }

    /// Signers de-duplicated by identity, in `identityID` order (so the input order does not
    /// matter), grouped by the principals they match; signers that match none are dropped.
    /// `principals` is indexed by the numbers in the policy's nodes.
    static func signerClasses(_ signers: [PolicySigner], principals: [PolicyPrincipal]) -> [SignerClass] {
        var seen: Set<String> = []
        var classIndexByMatches: [[Bool]: Int] = [:]
        var classes: [SignerClass] = []
        for signer in signers.sorted(by: { $0.identityID.utf8.lexicographicallyPrecedes($1.identityID.utf8) })
        where seen.insert(signer.identityID).inserted {
            let matches = principals.map { $0.isSatisfied(by: signer) }
            guard matches.contains(true) else { continue }
            if let index = classIndexByMatches[matches] {
                classes[index].signers.append(signer)
            } else {
                classIndexByMatches[matches] = classes.count
                classes.append(SignerClass(matches: matches, signers: [signer]))
            }
        }
        return classes
    }

    /// The signers of one satisfying assignment in `identityID` order, or nil.
    mutating func run() -> [PolicySigner]? {
        guard satisfy(root, then: { _ in true }) else { return nil }
        let used = classes.indices.flatMap { classes[$0].signers.prefix(usedCounts[$0]) }
        return used.sorted { $0.identityID.utf8.lexicographicallyPrecedes($1.identityID.utf8) }
    }

    /// Satisfies `node` with signers not yet in use, then calls `then`; tries the next way to
    /// satisfy `node` whenever `then` fails. On success `usedCounts` holds the whole assignment;
    /// on failure it is as it was.
    private mutating func satisfy(_ node: Node, then: (inout PolicySearch) -> Bool) -> Bool {
        guard spendStep() else { return false }
        switch node {
        case .principal(let principal):
            for index in classes.indices where classes[index].matches[principal] && usedCounts[index] < classes[index].signers.count {
                usedCounts[index] += 1
                if then(&self) { return true }
                usedCounts[index] -= 1
            }
            return false
        case .outOf(let count, let children):
            guard count >= 1 else { return false }
            return choose(children[...], needed: count, then: then)
        }
    }

    /// Satisfies `needed` of `nodes` (each at most once, in order), then calls `then`.
    private mutating func choose(_ nodes: ArraySlice<Node>, needed: Int, then: (inout PolicySearch) -> Bool) -> Bool {
        if needed == 0 { return then(&self) }
        guard let first = nodes.first, nodes.count >= needed else { return false }
        let rest = nodes.dropFirst()
        let withFirst = satisfy(first) { search in
            search.choose(rest, needed: needed - 1, then: then)
        }
        if withFirst { return true }
        guard spendStep() else { return false }
        return choose(rest, needed: needed, then: then)
    }

    private mutating func spendStep() -> Bool {
        guard stepsLeft > 0 else { return false }
        stepsLeft -= 1
        return true
    }
}
