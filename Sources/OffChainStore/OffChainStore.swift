import Foundation

/// Where encrypted PHI record versions live, off the chain: PostgreSQL (`PostgresOffChainStore`) or
/// a directory on one machine (`EmbeddedOffChainStore`). Both keep only what `EncryptedRecordVersion`
/// holds (ciphertext, nonce, wrapped data keys, algorithm ids, plaintext digest) plus a creation
/// time and an `AnchorState`; never plaintext, never an unwrapped key.
///
/// Semantics every backend keeps (checked by one shared test suite):
/// - Versions are immutable: `put` never overwrites an existing (record id, version).
/// - `put` writes all given versions or none, each `pending`, stamped with the store's clock.
/// - Reads return bytes as stored; integrity is checked when a version is opened or verified
///   (`verify`, `RecordCustodian.open`), not by the store.
///
/// Every method throws `OffChainStoreError`; backend failures have code `.storage`.
package protocol OffChainStore: Sendable {
    /// Stores new versions atomically (one transaction or write batch), `pending`. Throws
    /// `.versionExists` naming the versions that already exist (also when one repeats within the
    /// batch) and writes nothing; `.invalidArgument` for an empty or oversized batch, a bad record
    /// id, or a version without wrapped keys.
    func put(_ versions: [EncryptedRecordVersion]) async throws(OffChainStoreError)

    /// The stored version, or nil when there is none.
    func get(recordID: String, version: UInt32) async throws(OffChainStoreError) -> StoredRecordVersion?

    /// The highest stored version of the record (pending or anchored), or nil when there is none.
    func latest(recordID: String) async throws(OffChainStoreError) -> StoredRecordVersion?

    /// Every stored version of the record, lowest first; empty when there is none.
    func versions(of recordID: String) async throws(OffChainStoreError) -> [RecordVersionSummary]

    /// Marks a version anchored (its anchor committed on the chain); anchoring twice is harmless.
    /// Throws `.notFound` when the version is not stored.
    func markAnchored(recordID: String, version: UInt32) async throws(OffChainStoreError)

    /// Deletes up to `OffChainStoreLimits.pendingDeletionCountMax` pending versions created before
    /// `cutoff` (their anchors never committed); anchored versions are never deleted, also when
    /// one is marked anchored concurrently. Returns how many it deleted.
    ///
    /// Choose a cutoff well past the longest time an anchor can take to commit: a version deleted
    /// here whose anchor commits later cannot be marked anchored (`.notFound`) and must be put again.
    func deletePending(createdBefore cutoff: Date) async throws(OffChainStoreError) -> Int

    /// Pending versions created before `cutoff`, oldest first, at most
    /// `OffChainStoreLimits.pendingDeletionCountMax`: what `deletePending` would delete now. A
    /// caller checks these against the chain (marking the ones whose anchors did commit) before it
    /// deletes the rest.
    func pendingVersions(createdBefore cutoff: Date) async throws(OffChainStoreError) -> [RecordVersionID]

    /// Custodian wrapped keys under a key version other than `current`, in (record id, version)
    /// order after `cursor` (nil: from the start), at most `limit`: what a key rotation re-wraps next.
    func wrapsToRotate(notUnder current: UInt32, after cursor: RecordVersionID?, limit: Int) async throws(OffChainStoreError) -> [StoredWrap]

    /// Replaces wrapped keys, all in one transaction or write batch; each only where the stored
    /// key is still the `old` one (a version deleted or re-wrapped meanwhile is skipped). Returns
    /// how many it replaced.
    func replaceWraps(_ replacements: [WrapReplacement]) async throws(OffChainStoreError) -> Int

    /// How many stored wrapped keys each custodian key version wraps (versions with none absent).
    func wrapCounts() async throws(OffChainStoreError) -> [UInt32: Int]

    /// Erases versions for good (crypto-shredding): their rows, ciphertext and wrapped data keys
    /// are deleted (the embedded store then rewrites its files without them; PostgreSQL frees the
    /// space at its next VACUUM). Absent versions are skipped. Returns how many it erased.
    func erase(_ ids: [RecordVersionID]) async throws(OffChainStoreError) -> Int

    /// Takes or renews the lease `name` for `holder` until `duration` from now, when it is free,
    /// expired or already `holder`'s: so that one of the peers sharing a store runs a job.
    func acquireLease(_ name: String, holder: String, for duration: TimeInterval) async throws(OffChainStoreError) -> Bool
}

/// One stored custodian wrapped key: which record version it opens and where it is stored.
package struct StoredWrap: Sendable, Hashable {
    package let id: RecordVersionID
    /// Its position among the version's wrapped keys.
    package let position: Int
    package let wrapped: WrappedKey

    package init(id: RecordVersionID, position: Int, wrapped: WrappedKey) {
        self.id = id
        self.position = position
        self.wrapped = wrapped
    }
}

/// A stored wrapped key and what replaces it (the same data key, wrapped under another version).
package struct WrapReplacement: Sendable, Hashable {
    package let old: StoredWrap
    package let new: WrappedKey

    package init(old: StoredWrap, new: WrappedKey) {
        self.old = old
        self.new = new
    }
}

extension OffChainStore {
    /// Stores one new version; see `put(_:)`.
    package func put(_ version: EncryptedRecordVersion) async throws(OffChainStoreError) {
        try await put([version])
    }

    /// Checks a stored version against the digest the chain anchored: the stored digest must match,
    /// the custodian's wrapped key must open, the ciphertext must authenticate (AES-GCM) and decrypt
    /// to bytes with that digest. Throws `.notFound`, or an integrity error
    /// (`OffChainStoreError.isIntegrityFailure`) when any stored byte was changed. Returns nothing,
    /// and releases no plaintext.
    package func verify(
        recordID: String, version: UInt32, expectedDigest: Data, custodian: RecordCustodian
    ) async throws(OffChainStoreError) {
        _ = try await read(recordID: recordID, version: version, anchoredDigest: expectedDigest, custodian: custodian)
    }

    /// The plaintext of a stored version, opened by the custodian and checked against
    /// `anchoredDigest`. For the custodian's own use; release to others with `release`.
    package func read(
        recordID: String, version: UInt32, anchoredDigest: Data, custodian: RecordCustodian
    ) async throws(OffChainStoreError) -> Data {
        let stored = try await require(recordID: recordID, version: version)
        return try custodian.open(stored.encrypted, anchoredDigest: anchoredDigest)
    }

    /// What a requester the chain authorized receives: the sealed version and its data key
    /// re-wrapped for `requester`, after the custodian checked it against `anchoredDigest`.
    package func release(
        recordID: String, version: UInt32, anchoredDigest: Data, custodian: RecordCustodian, to requester: RecipientKey
    ) async throws(OffChainStoreError) -> (sealed: SealedRecord, wrappedKey: WrappedKey) {
        let stored = try await require(recordID: recordID, version: version)
        let wrapped = try custodian.rewrap(stored.encrypted, anchoredDigest: anchoredDigest, for: requester)
        return (stored.encrypted.sealed, wrapped)
    }

    private func require(recordID: String, version: UInt32) async throws(OffChainStoreError) -> StoredRecordVersion {
        guard let stored = try await get(recordID: recordID, version: version) else {
            throw OffChainStoreError(.notFound, "record '\(recordID)' version \(version) is not stored")
        }
        return stored
    }
}
