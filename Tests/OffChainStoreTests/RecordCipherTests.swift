import Crypto
import Foundation
import Testing

@testable import OffChainStore

@Suite struct RecordCipherTests {
    let plaintext = Data(#"{"diagnosis":"I21.9","notes":"chest pain"}"#.utf8)

    @Test func sealsWithAFreshKeyAndOpens() throws {
        let (first, key) = try RecordCipher.seal(plaintext, recordID: "rec-1", version: 1)
        let (second, otherKey) = try RecordCipher.seal(plaintext, recordID: "rec-1", version: 1)
        #expect(first.ciphertext != second.ciphertext)
        #expect(key != otherKey)
        #expect(first.ciphertext.range(of: Data("chest pain".utf8)) == nil)
        #expect(first.plaintextDigest == Data(SHA256.hash(data: plaintext)))
        #expect(try RecordCipher.open(first, dataKey: key, anchoredDigest: first.plaintextDigest) == plaintext)
    }

    @Test func detectsTamperingAndReplay() throws {
        let (record, key) = try RecordCipher.seal(plaintext, recordID: "rec-1", version: 1)
        var flipped = record.ciphertext
        flipped[0] ^= 1
        let tampered = SealedRecord(recordID: "rec-1", version: 1, ciphertext: flipped, nonce: record.nonce,
                                    plaintextDigest: record.plaintextDigest, algorithm: .aes256GCM)
        #expect(throws: OffChainStoreError(.tampered, "record 'rec-1' version 1 failed authentication")) {
            try RecordCipher.open(tampered, dataKey: key, anchoredDigest: record.plaintextDigest)
        }
        let replayed = SealedRecord(recordID: "rec-2", version: 1, ciphertext: record.ciphertext, nonce: record.nonce,
                                    plaintextDigest: record.plaintextDigest, algorithm: .aes256GCM)
        #expect(throws: OffChainStoreError.self) { try RecordCipher.open(replayed, dataKey: key, anchoredDigest: record.plaintextDigest) }
        let otherVersion = SealedRecord(recordID: "rec-1", version: 2, ciphertext: record.ciphertext, nonce: record.nonce,
                                        plaintextDigest: record.plaintextDigest, algorithm: .aes256GCM)
        #expect(throws: OffChainStoreError.self) { try RecordCipher.open(otherVersion, dataKey: key, anchoredDigest: record.plaintextDigest) }
        #expect(throws: OffChainStoreError.self) { try RecordCipher.open(record, dataKey: SymmetricKey(size: .bits256), anchoredDigest: record.plaintextDigest) }
    }

    @Test func refusesPlaintextThatIsNotTheAnchoredOne() throws {
        let (record, key) = try RecordCipher.seal(plaintext, recordID: "rec-1", version: 1)
        do {
            _ = try RecordCipher.open(record, dataKey: key, anchoredDigest: Data(SHA256.hash(data: Data("other".utf8))))
            Issue.record("opened a record against the wrong anchor")
        } catch {
            #expect(error.code == .digestMismatch)
            #expect(!error.reason.contains("chest"))
        }
    }
}
