/// One principal of an endorsement policy: `'MSP.role'`, or a Medrex attribute principal
/// `'MSP.role[name=value,...]'` that only an identity holding every listed attribute satisfies.
package struct PolicyPrincipal: Sendable, Hashable, CustomStringConvertible {
    package enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Any valid identity of the MSP.
        case member
        case admin
        case client
        case peer
        case orderer
    }

    package let mspID: String
    package let kind: Kind
    /// Attribute conditions; each must equal the signer's attribute exactly.
    package let attributes: [String: String]

    package init(mspID: String, kind: Kind, attributes: [String: String] = [:]) {
        self.mspID = mspID
        self.kind = kind
        self.attributes = attributes
    }

    /// True when `signer` belongs to `mspID`, has the role `kind` names (any role for `member`), and
    /// holds every attribute condition with exactly that value. MSP ids and values are compared as
    /// UTF-8 bytes, like Fabric, not by Swift's Unicode canonical equivalence, so the answer cannot
    /// depend on a Swift version's Unicode tables. A signer's other attributes do not matter.
    package func isSatisfied(by signer: PolicySigner) -> Bool {
        guard signer.mspID.utf8.elementsEqual(mspID.utf8) else { return false }
        if kind != .member, signer.role.rawValue != kind.rawValue { return false }
        return attributes.allSatisfy { name, value in
            signer.attributes[name].map { $0.utf8.elementsEqual(value.utf8) } ?? false
        }
    }

    /// Canonical text, quoted, attribute conditions sorted by name:
    /// `'HospitalAMSP.client[is_supervisor=true,specialty=cardiology]'`. It parses back to an equal
    /// principal when the fields follow the parser's grammar, as parsed principals always do.
    package var description: String {
        guard !attributes.isEmpty else { return "'\(mspID).\(kind.rawValue)'" }
        let conditions = attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return "'\(mspID).\(kind.rawValue)[\(conditions)]'"
    }
}
