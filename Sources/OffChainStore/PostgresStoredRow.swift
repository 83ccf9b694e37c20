import Foundation
import PostgresNIO

/// One stored version read back from PostgreSQL: the `phi_record_versions` row joined with its
/// `phi_wrapped_keys` rows (one result row per wrapped key, in position order).
struct PostgresStoredRow {
    /// The select list matching `Cells`, over `phi_record_versions r JOIN phi_wrapped_keys k`.
    static let columns = """
        r.record_id, r.version, r.ciphertext, r.nonce, r.content_algorithm, r.plaintext_digest, r.created_at, r.state, \
        k.recipient_key_id, k.encapsulated_key, k.wrapped_key, k.wrap_algorithm, k.key_version
        """
    typealias Cells = (String, Int64, Data, Data, String, Data, Date, String, String, Data, Data, String, Int64)

    let recordID: String
    let version: Int64
    let ciphertext: Data
    let nonce: Data
    let contentAlgorithm: String
    let plaintextDigest: Data
    let createdAt: Date
    let state: String
    var keys: [(recipientKeyID: String, encapsulatedKey: Data, ciphertext: Data, algorithm: String, keyVersion: Int64)] = []

    init(_ cells: Cells) {
        (recordID, version, ciphertext, nonce, contentAlgorithm, plaintextDigest, createdAt, state, _, _, _, _, _) = cells
    }

    mutating func appendKey(_ cells: Cells) {
        keys.append((cells.8, cells.9, cells.10, cells.11, cells.12))
    }

    /// Throws `.unsupportedAlgorithm` for an algorithm id this build lacks, `.corruptRow` for an
    /// unknown state or a version out of range.
    func storedVersion() throws(OffChainStoreError) -> StoredRecordVersion {
        guard let state = AnchorState(rawValue: state), let version = UInt32(exactly: version) else {
            throw OffChainStoreError(.corruptRow, "the stored row of record '\(recordID)' has an unknown state or version")
        }
        guard let content = RecordAlgorithm(rawValue: contentAlgorithm) else {
            throw OffChainStoreError(.unsupportedAlgorithm, "record '\(recordID)' uses content algorithm '\(contentAlgorithm)'")
        }
        var wrappedKeys: [WrappedKey] = []
        for key in keys {
            guard let algorithm = KeyWrapAlgorithm(rawValue: key.algorithm) else {
                throw OffChainStoreError(.unsupportedAlgorithm, "record '\(recordID)' uses key wrap algorithm '\(key.algorithm)'")
            }
            guard let keyVersion = UInt32(exactly: key.keyVersion) else {
                throw OffChainStoreError(.corruptRow, "the stored row of record '\(recordID)' has a key version out of range")
            }
            wrappedKeys.append(
                WrappedKey(
                    recipientKeyID: key.recipientKeyID, encapsulatedKey: key.encapsulatedKey, ciphertext: key.ciphertext, algorithm: algorithm,
                    keyVersion: keyVersion))
        }
        let sealed = SealedRecord(
            recordID: recordID, version: version, ciphertext: ciphertext, nonce: nonce, plaintextDigest: plaintextDigest, algorithm: content)
        return StoredRecordVersion(encrypted: EncryptedRecordVersion(sealed: sealed, wrappedKeys: wrappedKeys), createdAt: createdAt, state: state)
    }
}
