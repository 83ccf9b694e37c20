import Crypto
import Foundation

/// A requester the chain authorized to read a record: it holds its own P-256 key-agreement key,
/// receives the sealed record and the data key re-wrapped for `key` by the custodian, and opens it.
package struct RecordRequester: Sendable {
    private let privateKey: P256.KeyAgreement.PrivateKey
    /// The key a custodian wraps data keys for; send it (public) with the request.
    package let key: RecipientKey

    package init(privateKey: P256.KeyAgreement.PrivateKey) {
        self.privateKey = privateKey
        key = RecipientKey(publicKey: privateKey.publicKey)
    }

    /// Unwraps the data key and opens `sealed`, checked against `anchoredDigest`. Throws `.wrongKey`
    /// when `wrappedKey` is addressed to another key or does not open with this one (or was made
    /// for another record id or version), `.tampered` or `.digestMismatch` as `RecordCustodian.open`.
    package func open(_ sealed: SealedRecord, wrappedKey: WrappedKey, anchoredDigest: Data) throws(OffChainStoreError) -> Data {
        guard wrappedKey.recipientKeyID == key.keyID else {
            throw OffChainStoreError(
                .wrongKey, "the data key of record '\(sealed.recordID)' is wrapped for key \(wrappedKey.recipientKeyID), not \(key.keyID)")
        }
        let dataKey = try DataKeyWrapping.unwrap(wrappedKey, with: privateKey, recordID: sealed.recordID, version: sealed.version)
        return try RecordCustodian.open(sealed, dataKey: dataKey, anchoredDigest: anchoredDigest)
    }
}
