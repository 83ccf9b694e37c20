/// An identity whose signature has already been verified and whose certificate its MSP accepted:
/// what an endorsement policy is evaluated against.
package struct PolicySigner: Sendable, Hashable {
    /// Distinguishes identities: two signatures by the same identity carry the same `identityID`
    /// (hex SHA-256 of the serialized identity), and count once.
    package let identityID: String
    package let mspID: String
    package let role: IdentityRole
    /// Healthcare attributes from the Fabric CA attribute extension (`role`, `specialty`, ...).
    package let attributes: [String: String]

    package init(identityID: String, mspID: String, role: IdentityRole, attributes: [String: String] = [:]) {
        self.identityID = identityID
        self.mspID = mspID
        self.role = role
        self.attributes = attributes
    }
}
