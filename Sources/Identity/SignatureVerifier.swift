import Crypto
import Foundation

/// Verifies Fabric signatures: ECDSA P-256 over SHA-256 of the message, DER-encoded, low-S.
package enum SignatureVerifier {
    /// Throws `.malformedSignature` for bytes that are not a DER ECDSA signature, `.highSSignature`
    /// for a signature in the malleable high-S form (Fabric rejects those too), and `.badSignature`
    /// when the signature does not verify under `publicKey`.
    package static func verify(
        signature derSignature: some DataProtocol,
        over message: some DataProtocol,
        publicKey: P256.Signing.PublicKey
    ) throws(IdentityError) {
        let signature: P256.Signing.ECDSASignature
        do {
            signature = try P256.Signing.ECDSASignature(derRepresentation: derSignature)
        } catch {
            throw IdentityError(.malformedSignature, "signature is not a DER-encoded ECDSA P-256 signature")
        }
        guard LowS.isLow(s: signature.rawRepresentation.suffix(32)) else {
            throw IdentityError(.highSSignature, "signature has a high S value; only low-S signatures are accepted")
        }
        guard publicKey.isValidSignature(signature, for: message) else {
            throw IdentityError(.badSignature, "signature does not verify with the signer's public key")
        }
    }
}
