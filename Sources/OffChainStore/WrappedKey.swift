import Foundation

/// A record's data key encrypted for one recipient (the custodian organization, or a requester the
/// chain authorized). Stored beside the record for the custodian; handed to a requester on release.
package struct WrappedKey: Sendable, Hashable, Codable {
    /// The recipient's `RecipientKey.keyID`.
    package let recipientKeyID: String
    /// The HPKE encapsulated key (the sender's ephemeral P-256 public key, X9.63).
    package let encapsulatedKey: Data
    /// The data key sealed by HPKE, with its tag.
    package let ciphertext: Data
    /// How it was wrapped; stored so that keys and algorithms can be rotated.
    package let algorithm: KeyWrapAlgorithm
    /// The custodian key version it is wrapped under (`CustodianKeyVersion`); 0 for a key
    /// wrapped for a requester. Rows stored before versions existed read as version 1.
    package let keyVersion: UInt32

    package init(recipientKeyID: String, encapsulatedKey: Data, ciphertext: Data, algorithm: KeyWrapAlgorithm, keyVersion: UInt32 = 0) {
        self.recipientKeyID = recipientKeyID
        self.encapsulatedKey = encapsulatedKey
        self.ciphertext = ciphertext
        self.algorithm = algorithm
        self.keyVersion = keyVersion
    }

    /// The same wrapped key, recorded as wrapped under custodian key version `keyVersion`.
    func under(keyVersion: UInt32) -> WrappedKey {
        WrappedKey(recipientKeyID: recipientKeyID, encapsulatedKey: encapsulatedKey, ciphertext: ciphertext, algorithm: algorithm, keyVersion: keyVersion)
    }
}

/// Algorithm ids for wrapping data keys, stored with every wrapped key.
package enum KeyWrapAlgorithm: String, Sendable, Hashable, Codable, CaseIterable {
    /// RFC 9180 HPKE, base mode: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
    case hpkeP256SHA256AES256GCM = "HPKE-P256-SHA256-AES-256-GCM"
    /// AES-256-GCM inside a PKCS#11 token under a key that never leaves it; the encapsulated key
    /// field holds the 12-byte nonce.
    case pkcs11AES256GCM = "PKCS11-AES-256-GCM"
}
