/// The healthcare attributes Medrex understands, and the values each may take. Checked when a
/// network description is loaded so that a typo fails at `crypto generate`, not at an access
/// decision months later.
package enum HealthcareAttributeRules {
    package static let roles: Set<String> = [
        "patient", "consulting_doctor", "md_student", "nurse", "operator", "lab_technician", "auditor",
    ]
    package static let booleanNames: Set<String> = ["is_trainee", "is_supervisor", "privacy_officer"]
    package static let textNames: Set<String> = ["specialty", "hospital", "ward_assignment", "lab_org"]

    /// nil when the attribute is acceptable; otherwise why not.
    package static func problem(name: String, value: String) -> String? {
        if name == "role" {
            return roles.contains(value) ? nil : "unknown role '\(value)' (expected one of \(roles.sorted().joined(separator: ", ")))"
        }
        if booleanNames.contains(name) {
            return value == "true" || value == "false" ? nil : "'\(name)' must be true or false"
        }
        if textNames.contains(name) {
            return value.isEmpty ? "'\(name)' must not be empty" : nil
        }
        let known = (["role"] + booleanNames.sorted() + textNames.sorted()).joined(separator: ", ")
        return "unknown attribute '\(name)' (expected one of \(known))"
    }
}
