import Crypto
import Foundation

/// The public half of a P-256 key-agreement key that data keys are wrapped for, with its key id.
package struct RecipientKey: Sendable {
    /// Hex of the first 16 bytes of SHA-256 over the X9.63 public key: names the key in wrapped
    /// keys and errors without revealing anything secret.
    package let keyID: String
    package let publicKey: P256.KeyAgreement.PublicKey

    package init(publicKey: P256.KeyAgreement.PublicKey) {
        self.publicKey = publicKey
        keyID = SHA256.hash(data: publicKey.x963Representation).prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}
