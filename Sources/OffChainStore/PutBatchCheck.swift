import Foundation

/// Checks shared by the backends before they write.
enum PutBatchCheck {
    /// Throws `.invalidArgument` for an empty batch, one of too many versions or bytes, an
    /// oversized record, a bad record id, a version without wrapped keys or with too many;
    /// `.versionExists` for a (record id, version) repeated in the batch.
    static func check(_ versions: [EncryptedRecordVersion]) throws(OffChainStoreError) {
        guard !versions.isEmpty, versions.count <= OffChainStoreLimits.batchRecordCountMax else {
            throw OffChainStoreError(.invalidArgument, "a put takes 1 to \(OffChainStoreLimits.batchRecordCountMax) versions, not \(versions.count)")
        }
        let ciphertextBytes = versions.reduce(0) { $0 + $1.sealed.ciphertext.count }
        guard ciphertextBytes <= OffChainStoreLimits.batchCiphertextBytesMax else {
            throw OffChainStoreError(
                .invalidArgument, "a put holds \(ciphertextBytes) bytes of ciphertext, more than \(OffChainStoreLimits.batchCiphertextBytesMax); split it")
        }
        var seen = Set<RecordVersionID>()
        for version in versions {
            guard version.sealed.ciphertext.count <= OffChainStoreLimits.plaintextBytesMax + 16 else {
                throw OffChainStoreError(
                    .invalidArgument, "record '\(version.recordID)' is larger than \(OffChainStoreLimits.plaintextBytesMax) bytes")
            }
            try OffChainStoreLimits.check(recordID: version.recordID)
            guard (1...OffChainStoreLimits.wrappedKeysPerRecordMax).contains(version.wrappedKeys.count) else {
                throw OffChainStoreError(
                    .invalidArgument,
                    "record '\(version.recordID)' version \(version.version) needs 1 to \(OffChainStoreLimits.wrappedKeysPerRecordMax) wrapped keys")
            }
            let id = RecordVersionID(recordID: version.recordID, version: version.version)
            guard seen.insert(id).inserted else {
                throw OffChainStoreError(.versionExists, "record '\(id.recordID)' version \(id.version) appears twice in one put")
            }
        }
    }
}
