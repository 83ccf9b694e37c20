import Crypto

/// Fabric's transaction id: the lower-case hex SHA-256 of the signature header's nonce followed by
/// the creator's serialized identity. Binding the id to both makes a txid unforgeable by anyone but
/// its creator and unique per nonce.
package enum TransactionID {
    package static func make(nonce: some Sequence<UInt8>, creator: some Sequence<UInt8>) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(nonce))
        hasher.update(data: Array(creator))
        return hasher.finalize().hexString
    }

    /// Length of a txid in characters (64 hex digits).
    package static let textLength = 64
}
