/// A CPOE order. Its details (drug, dose, ...) are PHI and live off-chain; the chain holds
/// their SHA-256.
public struct ClinicalOrder: Codable, Hashable, Sendable {
    public enum Status: String, Codable, Sendable {
        /// A trainee's order, waiting for a supervisor's co-signature.
        case pendingCosign = "PENDING_COSIGN"
        case active = "ACTIVE"
    }

    public var orderID: String
    public var patient: String
    public var specialty: String
    public var detailsSHA256: String
    /// The ordering person's id.
    public var orderedBy: String
    /// The MSP id of the ordering hospital.
    public var hospital: String
    public var status: Status
    public var createdAt: String
    public var txID: String
    public var cosignedBy: String?
    public var cosignedAt: String?
}
