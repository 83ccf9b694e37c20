import Crypto
import Foundation

/// Wraps and unwraps 256-bit data keys with HPKE (`KeyWrapAlgorithm`). The record id and version
/// are the HPKE associated data, so a wrapped key opens only for the record version it was made for.
enum DataKeyWrapping {
    /// HPKE `info`: separates these keys from any other use of the recipient's key.
    static let info = Data("medrex off-chain data key v1".utf8)

    static func wrap(_ dataKey: SymmetricKey, for recipient: RecipientKey, recordID: String, version: UInt32) throws(OffChainStoreError) -> WrappedKey {
        guard dataKey.bitCount == 256 else { throw OffChainStoreError(.badKey, "data key is not 256 bits") }
        let associatedData = RecordCipher.associatedData(recordID, version)
        do {
            var sender = try HPKE.Sender(recipientKey: recipient.publicKey, ciphersuite: .P256_SHA256_AES_GCM_256, info: info)
            let ciphertext = try dataKey.withUnsafeBytes { try sender.seal($0, authenticating: associatedData) }
            return WrappedKey(
                recipientKeyID: recipient.keyID, encapsulatedKey: sender.encapsulatedKey, ciphertext: ciphertext,
                algorithm: .hpkeP256SHA256AES256GCM)
        } catch {
            throw OffChainStoreError(.badKey, "cannot wrap the data key of record '\(recordID)' version \(version) for key \(recipient.keyID)")
        }
    }

    static func unwrap(
        _ wrapped: WrappedKey, with privateKey: P256.KeyAgreement.PrivateKey, recordID: String, version: UInt32
    ) throws(OffChainStoreError) -> SymmetricKey {
        guard wrapped.algorithm == .hpkeP256SHA256AES256GCM else {
            throw OffChainStoreError(
                .wrongKey, "the data key of record '\(recordID)' version \(version) is wrapped with \(wrapped.algorithm.rawValue), not HPKE")
        }
        let keyBytes: Data
        do {
            var recipient = try HPKE.Recipient(
                privateKey: privateKey, ciphersuite: .P256_SHA256_AES_GCM_256, info: info, encapsulatedKey: wrapped.encapsulatedKey)
            keyBytes = try recipient.open(wrapped.ciphertext, authenticating: RecordCipher.associatedData(recordID, version))
        } catch {
            throw OffChainStoreError(
                .wrongKey,
                "the wrapped data key of record '\(recordID)' version \(version) does not open with key \(wrapped.recipientKeyID): "
                    + "a different private key, or the wrapped key, record id or version was changed")
        }
        guard keyBytes.count == 32 else { throw OffChainStoreError(.badKey, "the unwrapped data key of record '\(recordID)' is not 256 bits") }
        return SymmetricKey(data: keyBytes)
    }
}
