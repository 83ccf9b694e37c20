import Crypto
import Foundation
import LedgerCore
import LedgerWire
import SwiftProtobuf
import X509

/// An identity that can sign: its MSP id, its certificate and its private key. Signatures are ECDSA
/// P-256 over SHA-256 of the message, DER-encoded and always low-S.
package struct SigningIdentity: Sendable {
    package let mspID: String
    package let certificate: Certificate
    package let privateKey: P256.Signing.PrivateKey
    /// The `msp.SerializedIdentity` bytes (mspid + PEM certificate) that go into headers as creator.
    package let serialized: [UInt8]

    package init(mspID: String, certificate: Certificate, privateKey: P256.Signing.PrivateKey) throws(IdentityError) {
        guard certificate.publicKey == Certificate.PublicKey(privateKey.publicKey) else {
            throw IdentityError(.invalidConfiguration, "private key of '\(mspID)' does not match certificate '\(certificate.subject)'")
        }
        self.mspID = mspID
        self.certificate = certificate
        self.privateKey = privateKey
        self.serialized = try SerializedIdentity.encode(mspID: mspID, certificate: certificate)
    }

    /// A DER, low-S signature over `message`.
    package func sign(_ message: some DataProtocol) throws(IdentityError) -> [UInt8] {
        do {
            let signature = try privateKey.signature(for: message)
            return Array(LowS.normalize(signature).derRepresentation)
        } catch {
            throw IdentityError(.issuanceFailed, "signing failed: \(error)")
        }
    }
}
