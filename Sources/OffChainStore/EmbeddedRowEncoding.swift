import Foundation

/// How `EmbeddedOffChainStore` lays out its RocksDB keys and values.
///
/// - Version key: record id (UTF-8, no zero byte), a zero byte, the version as 4 big-endian bytes;
///   so a record's versions are adjacent and in order.
/// - Pending key: creation time in milliseconds since 1970 as 8 big-endian bytes, then the version
///   key; so pending versions are ordered by age.
/// - Value: the row as JSON (`EmbeddedRow`).
enum EmbeddedRowEncoding {
    static func versionKey(_ recordID: String, _ version: UInt32) -> [UInt8] {
        recordPrefix(recordID) + withUnsafeBytes(of: version.bigEndian, Array.init)
    }

    static func recordPrefix(_ recordID: String) -> [UInt8] { Array(recordID.utf8) + [0] }

    /// Every version key of `recordID` sorts below this (its id, then the byte after the zero byte).
    static func recordPrefixEnd(_ recordID: String) -> [UInt8] { Array(recordID.utf8) + [1] }

    static func pendingKey(createdAt: Date, versionKey: [UInt8]) -> [UInt8] {
        withUnsafeBytes(of: milliseconds(createdAt).bigEndian, Array.init) + versionKey
    }

    /// The pending keys of rows created before `cutoff` sort below this.
    static func pendingUpperBound(_ cutoff: Date) -> [UInt8] {
        withUnsafeBytes(of: milliseconds(cutoff).bigEndian, Array.init)
    }

    static func milliseconds(_ date: Date) -> UInt64 {
        // Clamped to UInt64's range first: a date far in the future (or NaN) never traps.
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded(.down)
        guard milliseconds.isFinite, milliseconds > 0 else { return 0 }
        return milliseconds >= 18_446_744_073_709_549_568 ? UInt64.max : UInt64(milliseconds)
    }

    static func encode(_ stored: StoredRecordVersion) throws(OffChainStoreError) -> [UInt8] {
        let sealed = stored.encrypted.sealed
        let row = EmbeddedRow(
            recordID: sealed.recordID, version: sealed.version, ciphertext: sealed.ciphertext, nonce: sealed.nonce,
            plaintextDigest: sealed.plaintextDigest, contentAlgorithm: sealed.algorithm.rawValue,
            wrappedKeys: stored.encrypted.wrappedKeys.map {
                EmbeddedRow.Key(
                    recipientKeyID: $0.recipientKeyID, encapsulatedKey: $0.encapsulatedKey, ciphertext: $0.ciphertext,
                    algorithm: $0.algorithm.rawValue, keyVersion: $0.keyVersion)
            },
            createdAtMilliseconds: milliseconds(stored.createdAt), state: stored.state.rawValue)
        do {
            return Array(try encoder.encode(row))
        } catch {
            throw OffChainStoreError(.storage, "cannot encode record '\(sealed.recordID)' version \(sealed.version)")
        }
    }

    /// Decodes a row read under `key`; throws `.corruptRow` when the bytes are not a row, or a row
    /// stored under another key, and `.unsupportedAlgorithm` for an algorithm id this build lacks.
    static func decode(_ bytes: [UInt8], key: [UInt8]) throws(OffChainStoreError) -> StoredRecordVersion {
        let row: EmbeddedRow
        do {
            row = try JSONDecoder().decode(EmbeddedRow.self, from: Data(bytes))
        } catch {
            throw OffChainStoreError(.corruptRow, "a stored row of the embedded off-chain store cannot be decoded")
        }
        guard versionKey(row.recordID, row.version) == key, let state = AnchorState(rawValue: row.state) else {
            throw OffChainStoreError(.corruptRow, "the stored row of record '\(row.recordID)' version \(row.version) is inconsistent")
        }
        guard let content = RecordAlgorithm(rawValue: row.contentAlgorithm) else {
            throw OffChainStoreError(.unsupportedAlgorithm, "record '\(row.recordID)' uses content algorithm '\(row.contentAlgorithm)'")
        }
        var wrappedKeys: [WrappedKey] = []
        for key in row.wrappedKeys {
            guard let algorithm = KeyWrapAlgorithm(rawValue: key.algorithm) else {
                throw OffChainStoreError(.unsupportedAlgorithm, "record '\(row.recordID)' uses key wrap algorithm '\(key.algorithm)'")
            }
            wrappedKeys.append(
                WrappedKey(
                    recipientKeyID: key.recipientKeyID, encapsulatedKey: key.encapsulatedKey, ciphertext: key.ciphertext, algorithm: algorithm,
                    keyVersion: key.keyVersion ?? 1))
        }
        let sealed = SealedRecord(
            recordID: row.recordID, version: row.version, ciphertext: row.ciphertext, nonce: row.nonce,
            plaintextDigest: row.plaintextDigest, algorithm: content)
        return StoredRecordVersion(
            encrypted: EncryptedRecordVersion(sealed: sealed, wrappedKeys: wrappedKeys),
            createdAt: Date(timeIntervalSince1970: Double(row.createdAtMilliseconds) / 1000), state: state)
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }
}

/// One stored version as the embedded store writes it (JSON; binary fields in base64).
struct EmbeddedRow: Codable {
    struct Key: Codable {
        var recipientKeyID: String
        var encapsulatedKey: Data
        var ciphertext: Data
        var algorithm: String
        /// The custodian key version; absent in rows written before versions existed (version 1).
        var keyVersion: UInt32?
    }

    var recordID: String
    var version: UInt32
    var ciphertext: Data
    var nonce: Data
    var plaintextDigest: Data
    var contentAlgorithm: String
    var wrappedKeys: [Key]
    var createdAtMilliseconds: UInt64
    var state: String
}
