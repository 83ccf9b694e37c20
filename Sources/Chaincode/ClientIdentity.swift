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

    /// The certificate's common name, parsed from the subject part of `id`
    /// (`x509::CN=dr-carter,OU=client,O=hospital-a.test::CN=ca...`): the value of the subject's
    /// first `CN=` component, up to the next `,` or `+` (or `/`, for Fabric's slash-separated
    /// form `/C=US/.../CN=user1`). nil when `id` is not in that form or the subject has no CN.
    public var commonName: String? {
        guard id.hasPrefix("x509::") else { return nil }
        let rest = id.dropFirst("x509::".count)
        guard let end = rest.range(of: "::") else { return nil }
        let subject = rest[..<end.lowerBound]
        let separators: Set<Character> = subject.hasPrefix("/") ? ["/", "+"] : [",", "+"]
        for component in subject.split(whereSeparator: { separators.contains($0) }) {
            let trimmed = component.drop(while: { $0 == " " })
            if trimmed.hasPrefix("CN=") {
                let value = trimmed.dropFirst(3)
                return value.isEmpty ? nil : String(value)
            }
        }
        return nil
    }

    /// The person this identity stands for across the network, `<mspID>/<commonName>`
    /// (e.g. `HospitalAMSP/dr-carter`); nil without a common name.
    public var personID: String? { commonName.map { "\(mspID)/\($0)" } }

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
