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

    package func isSatisfied(by signer: PolicySigner) -> Bool {
        guard signer.mspID == mspID else { return false }
        if kind != .member, signer.role.rawValue != kind.rawValue { return false }
        return attributes.allSatisfy { signer.attributes[$0.key] == $0.value }
    }

    /// Canonical text, quoted: `'HospitalAMSP.client[is_supervisor=true,specialty=cardiology]'`.
    package var description: String {
        guard !attributes.isEmpty else { return "'\(mspID).\(kind.rawValue)'" }
        let conditions = attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return "'\(mspID).\(kind.rawValue)[\(conditions)]'"
    }
}
