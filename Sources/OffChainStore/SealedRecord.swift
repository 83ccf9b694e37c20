import Crypto
import Foundation

/// One version of an off-chain PHI record, encrypted: what the off-chain store keeps. Holds no
/// plaintext and no unwrapped key.
package struct SealedRecord: Sendable, Hashable {
    package let recordID: String
    package let version: UInt32
    /// AES-256-GCM ciphertext followed by its 16-byte tag.
    package let ciphertext: Data
    /// The 12-byte GCM nonce.
    package let nonce: Data
    /// SHA-256 of the plaintext: the value anchored on the chain.
    package let plaintextDigest: Data
    /// Identifies the content cipher so that algorithms can be rotated later.
    package let algorithm: RecordAlgorithm

    /// A sealed record as received (a requester's copy from the custodian); nothing is checked
    /// until it is opened.
    package init(recordID: String, version: UInt32, ciphertext: Data, nonce: Data, plaintextDigest: Data, algorithm: RecordAlgorithm) {
        self.recordID = recordID
        self.version = version
        self.ciphertext = ciphertext
        self.nonce = nonce
        self.plaintextDigest = plaintextDigest
        self.algorithm = algorithm
    }
}

/// Algorithm ids stored with every record.
package enum RecordAlgorithm: String, Sendable, Hashable, Codable {
    case aes256GCM = "AES-256-GCM"
}

/// Encrypts each record version under a fresh 256-bit data key with AES-256-GCM; the record id and
/// version are authenticated as associated data, so a ciphertext cannot be replayed as another
/// record or version. Opening checks the plaintext against the anchored SHA-256.
package enum RecordCipher {
    /// Seals `plaintext`; returns the sealed record and its new data key (to be wrapped for the
    /// custodian; the caller must not store it unwrapped).
    package static func seal(_ plaintext: Data, recordID: String, version: UInt32) throws -> (SealedRecord, SymmetricKey) {
        let dataKey = SymmetricKey(size: .bits256)
        let box = try AES.GCM.seal(plaintext, using: dataKey, authenticating: associatedData(recordID, version))
        let record = SealedRecord(
            recordID: recordID, version: version, ciphertext: Data(Array(box.ciphertext) + Array(box.tag)), nonce: Data(box.nonce),
            plaintextDigest: Data(SHA256.hash(data: plaintext)), algorithm: .aes256GCM)
        return (record, dataKey)
    }

    /// Opens a record and checks it against `anchoredDigest` (the SHA-256 on the chain). Throws
    /// `.tampered` when ciphertext, nonce, id or version were changed, `.digestMismatch` when the
    /// plaintext is not the anchored one.
    package static func open(_ record: SealedRecord, dataKey: SymmetricKey, anchoredDigest: Data) throws(OffChainStoreError) -> Data {
        guard dataKey.bitCount == 256 else { throw OffChainStoreError(.badKey, "data key is not 256 bits") }
        let plaintext: Data
        do {
            guard record.ciphertext.count >= 16 else { throw OffChainStoreError(.tampered, "ciphertext is shorter than its tag") }
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: record.nonce), ciphertext: record.ciphertext.dropLast(16), tag: record.ciphertext.suffix(16))
            plaintext = try AES.GCM.open(box, using: dataKey, authenticating: associatedData(record.recordID, record.version))
        } catch {
            throw OffChainStoreError(.tampered, "record '\(record.recordID)' version \(record.version) failed authentication")
        }
        guard Data(SHA256.hash(data: plaintext)) == anchoredDigest else {
            throw OffChainStoreError(.digestMismatch, "record '\(record.recordID)' version \(record.version) does not match its anchored hash")
        }
        return plaintext
    }

    /// Record id (UTF-8), a zero byte, then the version as 4 big-endian bytes.
    static func associatedData(_ recordID: String, _ version: UInt32) -> Data {
        Data(recordID.utf8) + [0] + withUnsafeBytes(of: version.bigEndian) { Data($0) }
    }
}
