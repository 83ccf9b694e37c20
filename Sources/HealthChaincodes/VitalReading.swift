/// One device reading's on-chain trace: the reading itself is PHI and stays off-chain; the chain
/// holds its SHA-256 and, optionally, the id of the PHI record that carries it.
public struct VitalReading: Codable, Hashable, Sendable {
    public var patient: String
    public var device: String
    /// When the device took the reading (fixed-width ISO-8601 UTC).
    public var timestamp: String
    public var readingSHA256: String
    public var recordID: String?
    /// The person id of whoever recorded it, and the transaction.
    public var recordedBy: String
    public var txID: String
}
