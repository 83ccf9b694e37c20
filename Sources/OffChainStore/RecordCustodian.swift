import Crypto
import Foundation

/// The custodian organization's side of PHI encryption: it seals each new record version under a
/// fresh data key, wraps that key under the current version of its custodian key
/// (`CustodianKeyring`: PEM files or a PKCS#11 token), opens records it keeps (under whichever
/// version wrapped them), and re-wraps a record's data key for a requester the chain authorized.
///
/// Holds private keys or a logged-in token: never log it.
package struct RecordCustodian: Sendable {
    package let keyring: CustodianKeyring

    package init(keyring: CustodianKeyring) {
        self.keyring = keyring
    }

    /// A custodian whose keys are in memory: `privateKey` is the current version, `previousKeys`
    /// (oldest first) the versions before it.
    package init(privateKey: P256.KeyAgreement.PrivateKey, previousKeys: [P256.KeyAgreement.PrivateKey] = []) {
        // An in-memory store with at least one key always loads.
        keyring = try! CustodianKeyring(store: InMemoryCustodianKeys(previousKeys + [privateKey]), createFirst: false)
    }

    /// The key version new data keys are wrapped under.
    package var currentKey: any CustodianKeyVersion { keyring.current }

    /// Seals `plaintext` as `version` of `recordID` (AES-256-GCM under a fresh data key, the id and
    /// version authenticated) and wraps the data key under the current key version. The data key
    /// is dropped here.
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
        let wrapped = try keyring.wrap(dataKey, recordID: recordID, version: version)
        return EncryptedRecordVersion(sealed: sealed, wrappedKeys: [wrapped])
    }

    /// The data key of `wrapped` re-wrapped under the current key version, for a rotation: the
    /// sealed record is not touched.
    package func rewrapToCurrent(_ wrapped: WrappedKey, recordID: String, version: UInt32) throws(OffChainStoreError) -> WrappedKey {
        guard let key = try keyring.version(of: wrapped) else {
            throw OffChainStoreError(.wrongKey, "record '\(recordID)' version \(version) is wrapped under custodian key version \(wrapped.keyVersion), which is gone")
        }
        let dataKey = try key.unwrap(wrapped, recordID: recordID, version: version)
        return try keyring.wrap(dataKey, recordID: recordID, version: version)
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
        var refusal: OffChainStoreError?
        for wrapped in version.wrappedKeys {
            guard let key = try keyring.version(of: wrapped) else { continue }
            do {
                return try key.unwrap(wrapped, recordID: version.recordID, version: version.version)
            } catch {
                refusal = error
            }
        }
        if let refusal { throw refusal }
        let versions = version.wrappedKeys.map { String($0.keyVersion) }.joined(separator: ", ")
        throw OffChainStoreError(
            .wrongKey,
            "record '\(version.recordID)' version \(version.version) has no data key wrapped under the custodian's key versions "
                + "(it names version \(versions); \(keyring.store.location) holds \(keyring.versionNumbers.map(String.init).joined(separator: ", ")))")
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
