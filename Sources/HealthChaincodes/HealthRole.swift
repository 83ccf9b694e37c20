import Chaincode

/// The healthcare role of a certificate: its `role` attribute (DESIGN §3).
public enum HealthRole: String, Sendable, CaseIterable {
    case patient
    case consultingDoctor = "consulting_doctor"
    case mdStudent = "md_student"
    case nurse
    case `operator`
    case labTechnician = "lab_technician"
    case auditor
}

/// The invoker of a healthcare transaction, as the contracts see them.
struct HealthCaller {
    let identity: ClientIdentity
    /// `<mspID>/<certificate CN>`.
    let personID: String

    /// The invoker; refused (403) when the certificate has no common name, since every decision
    /// and audit entry names a person.
    init(_ identity: ClientIdentity) throws(ChaincodeError) {
        guard let personID = identity.personID else {
            throw ChaincodeError(.accessDenied, "the invoking certificate has no common name, so it names no person")
        }
        self.identity = identity
        self.personID = personID
    }

    var mspID: String { identity.mspID }
    /// nil for a missing or unknown `role` attribute.
    var role: HealthRole? { identity.attribute("role").flatMap(HealthRole.init(rawValue:)) }
    var roleName: String { identity.attribute("role") ?? "none" }

    func flag(_ name: String) -> Bool { identity.attribute(name) == "true" }

    /// Throws 403 unless the invoker has one of `roles`.
    func require(_ roles: Set<HealthRole>, to action: String) throws(ChaincodeError) {
        guard let role, roles.contains(role) else {
            let names = roles.map(\.rawValue).sorted().joined(separator: ", ")
            throw ChaincodeError(.accessDenied, "role '\(roleName)' may not \(action) (allowed: \(names))")
        }
    }
}
