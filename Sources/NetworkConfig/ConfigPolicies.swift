import Identity
import LedgerWire

/// The policies of a channel configuration tree, as Fabric's policy manager evaluates them:
/// a policy is named relative to a group (`Admins`, `Application/Admins`) or absolutely
/// (`/Channel/Application/Admins`); a signature policy is satisfied by the signers its principals
/// name; an ImplicitMeta policy by ANY, ALL or a MAJORITY of the same-named policies of the
/// group's sub-groups (a group without sub-groups satisfies ANY and MAJORITY).
package struct ConfigPolicies: Sendable {
    package let root: Common_ConfigGroup

    package init(root: Common_ConfigGroup) { self.root = root }

    package enum Outcome: Sendable, Equatable {
        case satisfied
        case notSatisfied
        /// No policy by that name where it points.
        case missing
    }

    /// Evaluates `name` as seen from the group at `groupPath` (which starts with `Channel`).
    package func evaluate(_ name: String, at groupPath: [String], signers: [PolicySigner]) -> Outcome {
        guard let (path, key) = Self.resolve(name, at: groupPath), let group = group(at: path), let policy = group.policies[key] else { return .missing }
        return evaluate(policy.policy, in: group, signers: signers, depth: 0) ? .satisfied : .notSatisfied
    }

    /// The group path and policy key `name` points to from `groupPath`.
    package static func resolve(_ name: String, at groupPath: [String]) -> (path: [String], key: String)? {
        let absolute = name.hasPrefix("/")
        let parts = (absolute ? name.dropFirst() : Substring(name)).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let key = parts.last, !key.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        let path = (absolute ? [] : groupPath) + parts.dropLast()
        guard path.first == ConfigTree.rootKey else { return nil }
        return (path, key)
    }

    /// The group at `path` (which starts with `Channel`).
    package func group(at path: [String]) -> Common_ConfigGroup? {
        guard path.first == ConfigTree.rootKey else { return nil }
        var group = root
        for name in path.dropFirst() {
            guard let child = group.groups[name] else { return nil }
            group = child
        }
        return group
    }

    private func evaluate(_ policy: Common_Policy, in group: Common_ConfigGroup, signers: [PolicySigner], depth: Int) -> Bool {
        // ImplicitMeta policies only descend; the bound guards against a tree deeper than any real one.
        guard depth < 32 else { return false }
        switch policy.type {
        case Int32(Common_Policy.PolicyType.signature.rawValue):
            guard let envelope = try? Common_SignaturePolicyEnvelope(serializedBytes: policy.value),
                let decoded = try? SignaturePolicyCodec.decode(envelope)
            else { return false }
            return decoded.isSatisfied(by: signers)
        case Int32(Common_Policy.PolicyType.implicitMeta.rawValue):
            guard let meta = try? Common_ImplicitMetaPolicy(serializedBytes: policy.value) else { return false }
            let children = group.groups.values
            let threshold: Int
            switch meta.rule {
            case .any: threshold = 1
            case .all: threshold = children.count
            case .majority: threshold = children.count / 2 + 1
            case .UNRECOGNIZED: return false
            }
            if children.isEmpty { return true }
            var satisfied = 0
            for child in children {
                guard let sub = child.policies[meta.subPolicy] else { continue }
                if evaluate(sub.policy, in: child, signers: signers, depth: depth + 1) { satisfied += 1 }
                if satisfied >= threshold { return true }
            }
            return false
        default:
            return false
        }
    }
}
