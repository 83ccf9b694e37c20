import Crypto
import Foundation
import Testing

@testable import OffChainStore

/// The custodian wraps each version's data key for itself and re-wraps it for a requester (HPKE);
/// wrong keys, records and versions are refused with clear errors that carry no secrets.
@Suite struct KeyWrappingTests {
    let custodian = RecordCustodian(privateKey: P256.KeyAgreement.PrivateKey())
    let requester = RecordRequester(privateKey: P256.KeyAgreement.PrivateKey())
    let plaintext = Data(#"{"diagnosis":"I21.9","notes":"chest pain"}"#.utf8)
    var anchoredDigest: Data { Data(SHA256.hash(data: plaintext)) }

    @Test func wrapsAFreshDataKeyForTheCustodianAndRewrapsItForARequester() throws {
        let version = try custodian.seal(plaintext, recordID: "rec-1", version: 1)
        let again = try custodian.seal(plaintext, recordID: "rec-1", version: 1)
        #expect(version.wrappedKeys.count == 1)
        let wrapped = try #require(version.wrappedKeys.first)
        #expect(wrapped.algorithm == .hpkeP256SHA256AES256GCM)
        #expect(wrapped.recipientKeyID == custodian.currentKey.keyID)
        #expect(wrapped.recipientKeyID.count == 32)
        #expect(wrapped.encapsulatedKey.count == 65)
        #expect(wrapped.ciphertext.count == 32 + 16)
        #expect(wrapped.encapsulatedKey != again.wrappedKeys[0].encapsulatedKey)
        #expect(version.sealed.ciphertext != again.sealed.ciphertext)
        #expect(try custodian.open(version, anchoredDigest: anchoredDigest) == plaintext)

        let rewrapped = try custodian.rewrap(version, anchoredDigest: anchoredDigest, for: requester.key)
        #expect(rewrapped.recipientKeyID == requester.key.keyID)
        #expect(try requester.open(version.sealed, wrappedKey: rewrapped, anchoredDigest: anchoredDigest) == plaintext)
    }

    @Test func refusesTheWrongKey() throws {
        let version = try custodian.seal(plaintext, recordID: "rec-1", version: 1)
        let otherCustodian = RecordCustodian(privateKey: P256.KeyAgreement.PrivateKey())
        #expect(throws: OffChainStoreError.self) { try otherCustodian.open(version, anchoredDigest: anchoredDigest) }

        let rewrapped = try custodian.rewrap(version, anchoredDigest: anchoredDigest, for: requester.key)
        let other = RecordRequester(privateKey: P256.KeyAgreement.PrivateKey())
        let addressedElsewhere = #expect(throws: OffChainStoreError.self) {
            try other.open(version.sealed, wrappedKey: rewrapped, anchoredDigest: anchoredDigest)
        }
        #expect(addressedElsewhere?.code == .wrongKey)
        // Relabelled for the other requester, the wrapped key still opens only with the right key.
        let relabelled = WrappedKey(
            recipientKeyID: other.key.keyID, encapsulatedKey: rewrapped.encapsulatedKey, ciphertext: rewrapped.ciphertext, algorithm: rewrapped.algorithm)
        let wrongKey = #expect(throws: OffChainStoreError.self) {
            try other.open(version.sealed, wrappedKey: relabelled, anchoredDigest: anchoredDigest)
        }
        #expect(wrongKey?.code == .wrongKey)
    }

    @Test func aWrappedKeyOpensOnlyForItsRecordIDAndVersion() throws {
        let first = try custodian.seal(plaintext, recordID: "rec-1", version: 1)
        let second = try custodian.seal(plaintext, recordID: "rec-1", version: 2)
        let other = try custodian.seal(plaintext, recordID: "rec-2", version: 1)
        for (sealed, wrappedKeys) in [(second.sealed, first.wrappedKeys), (other.sealed, first.wrappedKeys)] {
            let swapped = EncryptedRecordVersion(sealed: sealed, wrappedKeys: wrappedKeys)
            let error = #expect(throws: OffChainStoreError.self) { try custodian.open(swapped, anchoredDigest: anchoredDigest) }
            #expect(error?.code == .wrongKey)
        }
        let forRequester = try custodian.rewrap(first, anchoredDigest: anchoredDigest, for: requester.key)
        #expect(throws: OffChainStoreError.self) { try requester.open(second.sealed, wrappedKey: forRequester, anchoredDigest: anchoredDigest) }
    }

    @Test func tamperedWrappedKeysAndCiphertextsAreRefused() throws {
        let version = try custodian.seal(plaintext, recordID: "rec-1", version: 1)
        var flippedKey = version.wrappedKeys[0].ciphertext
        flippedKey[flippedKey.startIndex] ^= 1
        let badKey = WrappedKey(
            recipientKeyID: custodian.currentKey.keyID, encapsulatedKey: version.wrappedKeys[0].encapsulatedKey, ciphertext: flippedKey,
            algorithm: .hpkeP256SHA256AES256GCM)
        #expect(throws: OffChainStoreError.self) {
            try custodian.open(EncryptedRecordVersion(sealed: version.sealed, wrappedKeys: [badKey]), anchoredDigest: anchoredDigest)
        }
        var flipped = version.sealed.ciphertext
        flipped[flipped.startIndex + 5] ^= 0x80
        let tampered = SealedRecord(
            recordID: "rec-1", version: 1, ciphertext: flipped, nonce: version.sealed.nonce, plaintextDigest: version.sealed.plaintextDigest,
            algorithm: .aes256GCM)
        let error = #expect(throws: OffChainStoreError.self) {
            try custodian.open(EncryptedRecordVersion(sealed: tampered, wrappedKeys: version.wrappedKeys), anchoredDigest: anchoredDigest)
        }
        #expect(error?.code == .tampered)
        #expect(error?.isIntegrityFailure == true)
        #expect(throws: OffChainStoreError.self) { try custodian.rewrap(EncryptedRecordVersion(sealed: tampered, wrappedKeys: version.wrappedKeys), anchoredDigest: anchoredDigest, for: requester.key) }
    }

    @Test func errorsCarryNoPlaintextOrKeyMaterial() throws {
        let version = try custodian.seal(plaintext, recordID: "rec-1", version: 1)
        let other = RecordRequester(privateKey: P256.KeyAgreement.PrivateKey())
        let rewrapped = try custodian.rewrap(version, anchoredDigest: anchoredDigest, for: requester.key)
        var errors: [OffChainStoreError] = []
        do { _ = try custodian.open(version, anchoredDigest: Data(SHA256.hash(data: Data("x".utf8)))) } catch { errors.append(error) }
        do { _ = try other.open(version.sealed, wrappedKey: rewrapped, anchoredDigest: anchoredDigest) } catch { errors.append(error) }
        do { _ = try RecordCustodian(privateKey: .init()).open(version, anchoredDigest: anchoredDigest) } catch { errors.append(error) }
        #expect(errors.count == 3)
        for error in errors {
            #expect(!error.description.contains("chest"))
            #expect(!error.description.contains(version.sealed.ciphertext.base64EncodedString()))
            #expect(!error.description.contains(rewrapped.ciphertext.base64EncodedString()))
        }
    }

    @Test func aRotatedCustodianStillOpensVersionsWrappedForItsPreviousKey() throws {
        let oldKey = P256.KeyAgreement.PrivateKey()
        let before = RecordCustodian(privateKey: oldKey)
        let version = try before.seal(plaintext, recordID: "rec-1", version: 1)
        let rotated = RecordCustodian(privateKey: P256.KeyAgreement.PrivateKey(), previousKeys: [oldKey])
        #expect(rotated.currentKey.keyID != before.currentKey.keyID)
        #expect(try rotated.open(version, anchoredDigest: anchoredDigest) == plaintext)
        #expect(try rotated.seal(plaintext, recordID: "rec-1", version: 2).wrappedKeys.map(\.recipientKeyID) == [rotated.currentKey.keyID])
    }

    @Test func refusesBadRecordIDs() {
        for recordID in ["", String(repeating: "r", count: OffChainStoreLimits.recordIDBytesMax + 1), "a\u{0}b"] {
            let error = #expect(throws: OffChainStoreError.self) { try custodian.seal(plaintext, recordID: recordID, version: 1) }
            #expect(error?.code == .invalidArgument)
        }
    }
}
