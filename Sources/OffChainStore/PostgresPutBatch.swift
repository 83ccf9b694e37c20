import Foundation
import PostgresNIO

/// The columns of a `put` batch as PostgreSQL arrays, one per column, for `INSERT … SELECT FROM
/// unnest(…)`: one statement per table, whatever the batch size.
struct PostgresPutBatch {
    let createdAt: Date
    let ids: [RecordVersionID]
    var recordIDs: [String] = []
    var versions: [Int64] = []
    var ciphertexts: [ByteBuffer] = []
    var nonces: [ByteBuffer] = []
    var contentAlgorithms: [String] = []
    var plaintextDigests: [ByteBuffer] = []
    var keyRecordIDs: [String] = []
    var keyVersions: [Int64] = []
    var keyPositions: [Int16] = []
    var keyRecipients: [String] = []
    var keyEncapsulated: [ByteBuffer] = []
    var keyCiphertexts: [ByteBuffer] = []
    var keyAlgorithms: [String] = []
    var keyCustodianVersions: [Int64] = []

    init(_ batch: [EncryptedRecordVersion], createdAt: Date) {
        self.createdAt = createdAt
        ids = batch.map { RecordVersionID(recordID: $0.recordID, version: $0.version) }
        for version in batch {
            let sealed = version.sealed
            recordIDs.append(sealed.recordID)
            versions.append(Int64(sealed.version))
            ciphertexts.append(ByteBuffer(bytes: sealed.ciphertext))
            nonces.append(ByteBuffer(bytes: sealed.nonce))
            contentAlgorithms.append(sealed.algorithm.rawValue)
            plaintextDigests.append(ByteBuffer(bytes: sealed.plaintextDigest))
            for (position, key) in version.wrappedKeys.enumerated() {
                keyRecordIDs.append(sealed.recordID)
                keyVersions.append(Int64(sealed.version))
                keyPositions.append(Int16(position))
                keyRecipients.append(key.recipientKeyID)
                keyEncapsulated.append(ByteBuffer(bytes: key.encapsulatedKey))
                keyCiphertexts.append(ByteBuffer(bytes: key.ciphertext))
                keyAlgorithms.append(key.algorithm.rawValue)
                keyCustodianVersions.append(Int64(key.keyVersion))
            }
        }
    }
}
