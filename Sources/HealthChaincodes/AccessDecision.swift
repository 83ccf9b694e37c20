/// The answer of `access request`: whether the invoker may read the record version, why (a
/// short, stable code), and the anchor to verify the off-chain bytes against when granted.
public struct AccessDecision: Codable, Hashable, Sendable {
    public var granted: Bool
    /// `own-record`, `consent-doctor`, `consent-hospital`, `emergency`, `custodian-operator`,
    /// `ward-nurse`, `lab-result` when granted; `not-own-record`, `no-consent`,
    /// `emergency-expired`, `other-custodian`, `ward-mismatch`, `other-lab`, `resource-type`,
    /// `role-not-permitted` when denied.
    public var reason: String
    public var recordID: String
    public var version: UInt32
    /// Only when granted.
    public var anchor: PhiAnchor?

    public init(granted: Bool, reason: String, recordID: String, version: UInt32, anchor: PhiAnchor?) {
        self.granted = granted
        self.reason = reason
        self.recordID = recordID
        self.version = version
        self.anchor = anchor
    }
}

/// A patient's consent, stored under `CONSENT` [patient, kind, grantee].
public struct Consent: Codable, Hashable, Sendable {
    public var patient: String
    /// `doctor` (grantee a person id) or `hospital` (grantee an MSP id).
    public var kind: String
    public var grantee: String
    public var grantedAt: String
    public var txID: String
}

/// A doctor's emergency access to one patient, stored under `EMERGENCY` [patient, doctor]:
/// valid for `startedAt` ≤ t < `expiresAt` (30 minutes) of transaction time.
public struct EmergencySession: Codable, Hashable, Sendable {
    public var patient: String
    public var doctor: String
    public var startedAt: String
    public var expiresAt: String
    /// A code such as `cardiac-arrest`, never free text.
    public var reason: String
    public var txID: String
}

/// The ward a hospital's operator assigned a patient to, stored under `WARD` [MSP, patient].
public struct WardAssignment: Codable, Hashable, Sendable {
    public var hospital: String
    public var patient: String
    public var ward: String
    public var assignedBy: String
    public var assignedAt: String
    public var txID: String
}
