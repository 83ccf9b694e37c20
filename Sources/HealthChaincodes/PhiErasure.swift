/// The on-chain entry of an erased record version (crypto-shredding): the anchor stays, this
/// entry says who erased it, when, why, and which anchored hash it was. Written by `phi erase`
/// before the custodian's peers destroy the version's data key and ciphertext.
public struct ErasureEntry: Codable, Hashable, Sendable {
    public var recordID: String
    public var version: UInt32
    /// The erased version's anchored SHA-256 (kept: the chain still proves what was there).
    public var sha256: String
    public var patient: String
    public var custodian: String
    /// A reason code from `PhiContract.erasureReasons`.
    public var reason: String
    /// Set by the contract: the invoker's person id, the transaction time and id.
    public var erasedBy: String
    public var erasedAt: String
    public var txID: String
}

/// What a caller of `phi erase` sends: one version, or every version when `version` is absent.
package struct ErasureRequest: Codable, Sendable {
    package var recordID: String
    package var version: UInt32?
    package var reason: String

    package init(recordID: String, version: UInt32?, reason: String) {
        self.recordID = recordID
        self.version = version
        self.reason = reason
    }
}

/// A custodian's retention rule for one FHIR resource type (`phi setRetention`): a version may not
/// be erased before `keepYears` after it was anchored (except for the reasons that retention does
/// not hold against), and is erased by the custodian's peers once `eraseAfterYears` have passed.
public struct RetentionRule: Codable, Hashable, Sendable {
    public var custodian: String
    public var resourceType: String
    public var keepYears: UInt32?
    public var eraseAfterYears: UInt32?
    /// Set by the contract.
    public var setBy: String
    public var setAt: String
    public var txID: String
}

/// What a caller of `phi setRetention` sends; the custodian is the caller's organization.
package struct RetentionRequest: Codable, Sendable {
    package var resourceType: String
    package var keepYears: UInt32?
    package var eraseAfterYears: UInt32?

    package init(resourceType: String, keepYears: UInt32?, eraseAfterYears: UInt32?) {
        self.resourceType = resourceType
        self.keepYears = keepYears
        self.eraseAfterYears = eraseAfterYears
    }
}

/// An on-chain entry of the custodian key's life (`phi keyEvent`): a new version (`rotated`), one
/// batch of data keys re-wrapped to it (`rewrapped`, with the batch's first and last record
/// versions and a SHA-256 over its list), or an old version destroyed (`retired`).
public struct KeyEvent: Codable, Hashable, Sendable {
    public var custodian: String
    public var event: String
    public var keyVersion: UInt32
    public var count: UInt32?
    public var firstRecord: String?
    public var lastRecord: String?
    public var batchSHA256: String?
    /// Set by the contract.
    public var actor: String
    public var time: String
    public var txID: String
}

/// What a caller of `phi keyEvent` sends; the custodian is the caller's organization.
package struct KeyEventRequest: Codable, Sendable {
    package var event: String
    package var keyVersion: UInt32
    package var count: UInt32?
    package var firstRecord: String?
    package var lastRecord: String?
    package var batchSHA256: String?

    package init(event: String, keyVersion: UInt32, count: UInt32? = nil, firstRecord: String? = nil, lastRecord: String? = nil, batchSHA256: String? = nil) {
        self.event = event
        self.keyVersion = keyVersion
        self.count = count
        self.firstRecord = firstRecord
        self.lastRecord = lastRecord
        self.batchSHA256 = batchSHA256
    }
}

/// One line of `phi history`: a version's anchor and, when erased, its erasure entry.
public struct RecordVersionHistory: Codable, Hashable, Sendable {
    public var anchor: PhiAnchor
    public var erasure: ErasureEntry?
    /// `anchored` or `erased`.
    public var state: String
}
