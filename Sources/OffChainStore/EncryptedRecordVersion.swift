import Foundation

/// What the custodian hands to an `OffChainStore`: one sealed record version and its data key
/// wrapped for the custodian organization. Holds no plaintext and no unwrapped key.
package struct EncryptedRecordVersion: Sendable, Hashable {
    package let sealed: SealedRecord
    /// The data key wrapped for the custodian's keys (the current one first).
    package let wrappedKeys: [WrappedKey]

    package init(sealed: SealedRecord, wrappedKeys: [WrappedKey]) {
        self.sealed = sealed
        self.wrappedKeys = wrappedKeys
    }

    package var recordID: String { sealed.recordID }
    package var version: UInt32 { sealed.version }
}

/// A record version as an `OffChainStore` keeps it: the encrypted version, when the store wrote it
/// and whether its anchor has committed on the chain.
package struct StoredRecordVersion: Sendable, Hashable {
    package let encrypted: EncryptedRecordVersion
    package let createdAt: Date
    package let state: AnchorState

    package init(encrypted: EncryptedRecordVersion, createdAt: Date, state: AnchorState) {
        self.encrypted = encrypted
        self.createdAt = createdAt
        self.state = state
    }

    package var summary: RecordVersionSummary {
        RecordVersionSummary(
            version: encrypted.version, plaintextDigest: encrypted.sealed.plaintextDigest, createdAt: createdAt, state: state)
    }
}

/// One line of `OffChainStore.versions(of:)`: a version without its ciphertext.
package struct RecordVersionSummary: Sendable, Hashable {
    package let version: UInt32
    package let plaintextDigest: Data
    package let createdAt: Date
    package let state: AnchorState
}

/// Whether a stored version's anchor transaction has committed on the chain. A version is written
/// `pending` before its anchor is submitted and marked `anchored` once the anchor commits; pending
/// rows older than a cutoff belong to anchors that never committed and are deleted.
package enum AnchorState: String, Sendable, Hashable, Codable {
    case pending
    case anchored
}
