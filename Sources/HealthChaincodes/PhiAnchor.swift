/// The on-chain anchor of one version of an off-chain PHI record: ids, the SHA-256 of the
/// canonical plaintext and algorithm ids; never the record itself. Written by the `phi`
/// contract, read by the peer's PHI service to verify what it releases.
public struct PhiAnchor: Codable, Hashable, Sendable {
    public var recordID: String
    /// 1 for the first version; version n > 1 requires version n-1 (same patient, custodian).
    public var version: UInt32
    /// SHA-256 of the canonical plaintext, 64 lowercase hex digits.
    public var sha256: String
    /// The patient's person id, `<mspID>/<CN>`.
    public var patient: String
    /// The MSP id of the organization holding the record.
    public var custodian: String
    /// The FHIR resource type, e.g. `Observation`.
    public var resourceType: String
    /// The lab organization that produced the result, if any.
    public var labOrg: String?
    /// Algorithm ids: the content cipher (`AES-256-GCM`) and how a data key is wrapped when it is
    /// released to a reader (`HPKE-P256-SHA256-AES-256-GCM`). How the custodian keeps it wrapped
    /// (PEM or PKCS#11 key, its version) is recorded off the chain with each wrapped key.
    public var cipher: String
    public var keyWrap: String
    /// Set by the contract: who anchored it, when (transaction time, fixed-width ISO-8601 UTC), in
    /// which transaction.
    public var anchoredBy: String
    public var anchoredAt: String
    public var txID: String
    /// Set by the contract: `patient` for a record the patient contributed about themself,
    /// `staff` for one entered by the custodian's staff (absent in anchors written before: staff).
    public var source: String?

    /// Whether the patient contributed this version.
    public var isPatientContributed: Bool { source == PhiContract.patientSource }

    public init(
        recordID: String, version: UInt32, sha256: String, patient: String, custodian: String, resourceType: String,
        labOrg: String? = nil, cipher: String, keyWrap: String, anchoredBy: String, anchoredAt: String, txID: String, source: String? = nil
    ) {
        self.recordID = recordID
        self.version = version
        self.sha256 = sha256
        self.patient = patient
        self.custodian = custodian
        self.resourceType = resourceType
        self.labOrg = labOrg
        self.cipher = cipher
        self.keyWrap = keyWrap
        self.anchoredBy = anchoredBy
        self.anchoredAt = anchoredAt
        self.txID = txID
        self.source = source
    }
}

/// The fields a caller of `phi anchor` sends; the contract adds the rest.
package struct PhiAnchorRequest: Codable, Sendable {
    package var recordID: String
    package var version: UInt32
    package var sha256: String
    package var patient: String
    package var custodian: String
    package var resourceType: String
    package var labOrg: String?
    package var cipher: String
    package var keyWrap: String

    package init(
        recordID: String, version: UInt32, sha256: String, patient: String, custodian: String, resourceType: String, labOrg: String?,
        cipher: String, keyWrap: String
    ) {
        self.recordID = recordID
        self.version = version
        self.sha256 = sha256
        self.patient = patient
        self.custodian = custodian
        self.resourceType = resourceType
        self.labOrg = labOrg
        self.cipher = cipher
        self.keyWrap = keyWrap
    }
}
