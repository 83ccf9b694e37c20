/// Bounds on what the off-chain store accepts, kept in one place (STYLE §5).
package enum OffChainStoreLimits {
    /// A record id's UTF-8 length. Ids are opaque (never PHI) and contain no zero byte.
    package static let recordIDBytesMax = 256
    /// Record versions written by one `put` (one transaction or one write batch).
    package static let batchRecordCountMax = 1_000
    /// Wrapped data keys stored with one record version (the custodian's current and older keys).
    package static let wrappedKeysPerRecordMax = 8
    /// One record's plaintext.
    package static let plaintextBytesMax = 64 << 20
    /// The ciphertexts of one `put` together (a PostgreSQL message is at most 1 GiB).
    package static let batchCiphertextBytesMax = 256 << 20
    /// Rows removed by one `deletePending` call; call again while it returns this many.
    package static let pendingDeletionCountMax = 10_000

    /// Throws `.invalidArgument` unless `recordID` is non-empty, within `recordIDBytesMax` and
    /// free of zero bytes.
    package static func check(recordID: String) throws(OffChainStoreError) {
        let length = recordID.utf8.count
        guard length > 0, length <= recordIDBytesMax, !recordID.utf8.contains(0) else {
            throw OffChainStoreError(.invalidArgument, "a record id must be 1 to \(recordIDBytesMax) UTF-8 bytes without a zero byte")
        }
    }
}
