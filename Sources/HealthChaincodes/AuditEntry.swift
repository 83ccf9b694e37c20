/// One append-only audit record: who did what to which patient's data, when, and whether it was
/// allowed. Ids and codes only, never PHI.
public struct AuditEntry: Codable, Hashable, Sendable {
    /// The patient's person id.
    public var patient: String
    /// `read`, `grant`, `revoke`, `emergency`, `put`, `query-denied`, ... (a lowercase code).
    public var action: String
    public var recordID: String?
    public var version: UInt32?
    /// The other party of a consent (`grant`, `revoke`): a person id or an MSP id.
    public var grantee: String?
    /// `granted` or `denied`.
    public var decision: String
    /// A short, stable reason code (`own-record`, `no-consent`, ...).
    public var reason: String
    /// Set by the contract: the invoker's person id, the transaction time (fixed-width ISO-8601
    /// UTC), the transaction, and the entry's position among the entries this transaction appended
    /// (0 for the first).
    public var actor: String
    public var time: String
    public var txID: String
    public var sequence: UInt32

    public init(
        patient: String, action: String, recordID: String? = nil, version: UInt32? = nil, grantee: String? = nil,
        decision: String, reason: String, actor: String, time: String, txID: String, sequence: UInt32
    ) {
        self.patient = patient
        self.action = action
        self.recordID = recordID
        self.version = version
        self.grantee = grantee
        self.decision = decision
        self.reason = reason
        self.actor = actor
        self.time = time
        self.txID = txID
        self.sequence = sequence
    }
}

/// What a caller of `audit append` sends; actor, time, txID and sequence come from the transaction.
package struct AuditRequest: Codable, Sendable {
    package var patient: String
    package var action: String
    package var recordID: String?
    package var version: UInt32?
    package var grantee: String?
    package var decision: String
    package var reason: String

    package init(
        patient: String, action: String, recordID: String? = nil, version: UInt32? = nil, grantee: String? = nil, decision: String, reason: String
    ) {
        self.patient = patient
        self.action = action
        self.recordID = recordID
        self.version = version
        self.grantee = grantee
        self.decision = decision
        self.reason = reason
    }
}
