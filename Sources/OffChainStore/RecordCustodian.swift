import Crypto
import Foundation

/// The custodian organization's side of PHI encryption: it seals each new record version under a
/// fresh data key, wraps that key for its own P-256 key, opens records it keeps, and re-wraps a
/// record's data key for a requester the chain authorized.
///
/// Holds private keys: never log it. Older keys may be kept after a rotation so that versions
/// wrapped for them still open; new versions are wrapped for the current key only.
package struct RecordCustodian: Sendable {
    private let currentPrivateKey: P256.KeyAgreement.PrivateKey
    private let privateKeysByID: [String: P256.KeyAgreement.PrivateKey]
    /// The key new versions are wrapped for.
    package let currentKey: RecipientKey

    /// - Parameters:
    ///   - privateKey: the organization's current key-agreement key.
    ///   - previousKeys: keys retired by rotation, still used to open older versions.
    package init(privateKey: P256.KeyAgreement.PrivateKey, previousKeys: [P256.KeyAgreement.PrivateKey] = []) {
        currentPrivateKey = privateKey
        currentKey = RecipientKey(publicKey: privateKey.publicKey)
        var byID: [String: P256.KeyAgreement.PrivateKey] = [:]
        for key in previousKeys + [privateKey] { byID[RecipientKey(publicKey: key.publicKey).keyID] = key }
        privateKeysByID = byID
    }

    /// Seals `plaintext` as `version` of `recordID` (AES-256-GCM under a fresh data key, the id and
    /// version authenticated) and wraps the data key for `currentKey`. The data key is dropped here.
    package func seal(_ plaintext: Data, recordID: String, version: UInt32) throws(OffChainStoreError) -> EncryptedRecordVersion {
        try OffChainStoreLimits.check(recordID: recordID)
        guard plaintext.count <= OffChainStoreLimits.plaintextBytesMax else {
            throw OffChainStoreError(.invalidArgument, "record '\(recordID)' is larger than \(OffChainStoreLimits.plaintextBytesMax) bytes")
        }
        let sealed: SealedRecord
        let dataKey: SymmetricKey
        do {
            (sealed, dataKey) = try RecordCipher.seal(plaintext, recordID: recordID, version: version)
        } catch {
            throw OffChainStoreError(.badKey, "cannot seal record '\(recordID)' version \(version)")
        }
        let wrapped = try DataKeyWrapping.wrap(dataKey, for: currentKey, recordID: recordID, version: version)
        return EncryptedRecordVersion(sealed: sealed, wrappedKeys: [wrapped])
    }

    /// Opens a stored version and checks it against `anchoredDigest` (the SHA-256 anchored on the
    /// chain). Throws `.wrongKey` when no wrapped key opens with this custodian's keys, `.tampered`
    /// when the ciphertext, nonce, id or version were changed, `.digestMismatch` when the plaintext
    /// or the stored digest is not the anchored one.
    package func open(_ version: EncryptedRecordVersion, anchoredDigest: Data) throws(OffChainStoreError) -> Data {
        let dataKey = try unwrapDataKey(of: version)
        return try Self.open(version.sealed, dataKey: dataKey, anchoredDigest: anchoredDigest)
    }

    /// Wraps the data key of `version` for `requester` (HPKE), after checking that the version
    /// decrypts and matches `anchoredDigest`: the custodian never releases a key for bytes that are
    /// not the anchored ones. The requester opens the result with `RecordRequester`.
    package func rewrap(
        _ version: EncryptedRecordVersion, anchoredDigest: Data, for requester: RecipientKey
    ) throws(OffChainStoreError) -> WrappedKey {
        let dataKey = try unwrapDataKey(of: version)
        _ = try Self.open(version.sealed, dataKey: dataKey, anchoredDigest: anchoredDigest)
        return try DataKeyWrapping.wrap(dataKey, for: requester, recordID: version.recordID, version: version.version)
    }

    private func unwrapDataKey(of version: EncryptedRecordVersion) throws(OffChainStoreError) -> SymmetricKey {
        for wrapped in version.wrappedKeys {
            guard let privateKey = privateKeysByID[wrapped.recipientKeyID] else { continue }
            return try DataKeyWrapping.unwrap(wrapped, with: privateKey, recordID: version.recordID, version: version.version)
        }
        let known = privateKeysByID.keys.sorted().joined(separator: ", ")
        throw OffChainStoreError(
            .wrongKey, "record '\(version.recordID)' version \(version.version) has no data key wrapped for the custodian's keys (\(known))")
    }

    /// Checks the stored digest before decrypting, so a row whose digest was replaced fails even
    /// when its ciphertext is intact.
    static func open(_ sealed: SealedRecord, dataKey: SymmetricKey, anchoredDigest: Data) throws(OffChainStoreError) -> Data {
        guard sealed.plaintextDigest == anchoredDigest else {
            throw OffChainStoreError(
                .digestMismatch, "record '\(sealed.recordID)' version \(sealed.version) is stored with a digest other than the anchored one")
        }
        return try RecordCipher.open(sealed, dataKey: dataKey, anchoredDigest: anchoredDigest)
    }
}
