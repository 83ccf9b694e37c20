/// The identity that invoked the transaction, as its MSP validated it.
public struct ClientIdentity: Hashable, Sendable {
    /// A stable id for the identity: `x509::<subject>::<issuer>`, as Fabric's client identity library.
    public let id: String
    public let mspID: String
    /// The NodeOU role: `client`, `peer`, `orderer` or `admin`.
    public let role: String
    /// Healthcare attributes from the certificate (`role`, `specialty`, `is_trainee`, ...).
    public let attributes: [String: String]

    public init(id: String, mspID: String, role: String, attributes: [String: String]) {
        self.id = id
        self.mspID = mspID
        self.role = role
        self.attributes = attributes
    }

    public func attribute(_ name: String) -> String? { attributes[name] }

    /// Throws `.accessDenied` unless the identity has attribute `name` equal to `value`.
    public func assertAttributeValue(_ name: String, _ value: String) throws(ChaincodeError) {
        guard let actual = attributes[name] else {
            throw ChaincodeError(.accessDenied, "identity has no attribute '\(name)'")
        }
        guard actual == value else {
            throw ChaincodeError(.accessDenied, "attribute '\(name)' does not have the required value")
        }
    }
}
