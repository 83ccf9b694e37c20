import Crypto
import Foundation
import Testing
import TestSupport

@testable import OffChainStore

/// Custodian key versions in a real PKCS#11 token (SoftHSM) and in PEM files: wrapping, opening
/// under older versions, rotation, re-wrapping, retirement and the refusals.
@Suite struct CustodianKeyTests {
    let plaintext = Data(#"{"resourceType":"Observation","note":"custodian key test"}"#.utf8)
    var digest: Data { Data(SHA256.hash(data: plaintext)) }

    static func token(_ label: String = "medrex-keys-a") throws -> PKCS11Token {
        try SoftHSM.prepare(tokens: SoftHSM.testTokens)
        return try PKCS11Token(library: SoftHSM.library, tokenLabel: label, pin: SoftHSM.userPIN)
    }

    /// A key label no other test uses, so tests sharing the token stay independent.
    static func uniqueLabel() -> String { "custodian-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test func aTokenKeyWrapsAndOpensAndNeverLeavesTheToken() throws {
        let keys = PKCS11CustodianKeys(token: try Self.token(), label: Self.uniqueLabel())
        let custodian = RecordCustodian(keyring: try CustodianKeyring(store: keys))
        #expect(custodian.currentKey.version == 1)
        let sealed = try custodian.seal(plaintext, recordID: "rec-hsm", version: 1)
        let wrapped = try #require(sealed.wrappedKeys.first)
        #expect(wrapped.algorithm == .pkcs11AES256GCM)
        #expect(wrapped.keyVersion == 1)
        #expect(wrapped.encapsulatedKey.count == 12)
        #expect(wrapped.ciphertext.count == 48)
        #expect(try custodian.open(sealed, anchoredDigest: digest) == plaintext)

        // Bound to the record version: the same wrapped key under another id does not open.
        let moved = EncryptedRecordVersion(
            sealed: SealedRecord(
                recordID: "rec-other", version: 1, ciphertext: sealed.sealed.ciphertext, nonce: sealed.sealed.nonce,
                plaintextDigest: sealed.sealed.plaintextDigest, algorithm: .aes256GCM),
            wrappedKeys: sealed.wrappedKeys)
        #expect(throws: OffChainStoreError.self) { try custodian.open(moved, anchoredDigest: digest) }
        var flipped = wrapped.ciphertext
        flipped[3] ^= 0x40
        let tampered = EncryptedRecordVersion(
            sealed: sealed.sealed,
            wrappedKeys: [WrappedKey(recipientKeyID: wrapped.recipientKeyID, encapsulatedKey: wrapped.encapsulatedKey, ciphertext: flipped, algorithm: wrapped.algorithm, keyVersion: 1)])
        let error = try #require(throws: OffChainStoreError.self) { try custodian.open(tampered, anchoredDigest: digest) }
        #expect(error.code == .wrongKey, "\(error)")

        // Another organization's token key (same version number) does not open it.
        let stranger = RecordCustodian(keyring: try CustodianKeyring(store: PKCS11CustodianKeys(token: try Self.token("medrex-keys-b"), label: Self.uniqueLabel())))
        #expect(throws: OffChainStoreError.self) { try stranger.open(sealed, anchoredDigest: digest) }
    }

    @Test func aWrongPINAMissingTokenOrLibraryIsAClearError() throws {
        try SoftHSM.prepare(tokens: SoftHSM.testTokens)
        let wrongPIN = try #require(throws: OffChainStoreError.self) {
            try PKCS11Token(library: SoftHSM.library, tokenLabel: "medrex-keys-a", pin: "0000-not-it")
        }
        #expect(wrongPIN.code == .keyUnavailable)
        #expect(wrongPIN.reason.contains("PIN"))
        #expect(!wrongPIN.reason.contains("0000-not-it"))
        let missing = try #require(throws: OffChainStoreError.self) {
            try PKCS11Token(library: SoftHSM.library, tokenLabel: "no-such-token", pin: SoftHSM.userPIN)
        }
        #expect(missing.reason.contains("no PKCS#11 token labelled 'no-such-token'"))
        let noLibrary = try #require(throws: OffChainStoreError.self) {
            try PKCS11Token(library: "/nonexistent/libpkcs11.so", tokenLabel: "medrex-keys-a", pin: SoftHSM.userPIN)
        }
        #expect(noLibrary.reason.contains("cannot load the PKCS#11 library"))
        // The right PIN still works after a wrong one (nothing was changed or locked by one try).
        _ = try Self.token()
    }

    @Test func rotationRewrapsAndRetiresWhileOldVersionsStillOpen() async throws {
        let token = try Self.token()
        let label = Self.uniqueLabel()
        let keyring = try CustodianKeyring(store: PKCS11CustodianKeys(token: token, label: label))
        let custodian = RecordCustodian(keyring: keyring)
        let store = InMemoryOffChainStore()
        for index in 1...5 { try await store.put(try custodian.seal(plaintext, recordID: "rec-\(index)", version: 1)) }

        // Another peer of the organization (its own session and keyring on the same token) rotates.
        let otherPeer = try CustodianKeyring(store: PKCS11CustodianKeys(token: try Self.token(), label: label))
        let rotated = try otherPeer.rotate()
        #expect(rotated.version == 2)
        // This peer wraps under version 1 until it refreshes, and opens version 2's keys on sight.
        let sealedByOther = try RecordCustodian(keyring: otherPeer).seal(plaintext, recordID: "rec-6", version: 1)
        #expect(sealedByOther.wrappedKeys[0].keyVersion == 2)
        #expect(try custodian.open(sealedByOther, anchoredDigest: digest) == plaintext)
        #expect(keyring.current.version == 2)
        try await store.put(sealedByOther)
        #expect(try await store.wrapCounts() == [1: 5, 2: 1])

        let toRewrap = try await store.wrapsToRotate(notUnder: 2, after: nil, limit: 3)
        #expect(toRewrap.map(\.id.recordID) == ["rec-1", "rec-2", "rec-3"])
        let replacements = try toRewrap.map { wrap in
            WrapReplacement(old: wrap, new: try custodian.rewrapToCurrent(wrap.wrapped, recordID: wrap.id.recordID, version: wrap.id.version))
        }
        #expect(try await store.replaceWraps(replacements) == 3)
        // Replacing again changes nothing: the stored keys are no longer the old ones.
        #expect(try await store.replaceWraps(replacements) == 0)
        let rest = try await store.wrapsToRotate(notUnder: 2, after: toRewrap.last?.id, limit: 100)
        #expect(rest.map(\.id.recordID) == ["rec-4", "rec-5"])
        let oldCopy = try #require(try await store.get(recordID: "rec-4", version: 1))
        _ = try await store.replaceWraps(
            try rest.map { WrapReplacement(old: $0, new: try custodian.rewrapToCurrent($0.wrapped, recordID: $0.id.recordID, version: $0.id.version)) })
        #expect(try await store.wrapCounts() == [2: 6])
        for index in 1...6 {
            let stored = try #require(try await store.get(recordID: "rec-\(index)", version: 1))
            #expect(try custodian.open(stored.encrypted, anchoredDigest: digest) == plaintext)
        }

        try keyring.retire(version: 1)
        #expect(keyring.versionNumbers == [2])
        try otherPeer.refresh()
        #expect(otherPeer.versionNumbers == [2])
        // A copy wrapped under the retired version (a backup, say) can no longer be opened.
        let retired = try #require(throws: OffChainStoreError.self) { try custodian.open(oldCopy.encrypted, anchoredDigest: digest) }
        #expect(retired.code == .wrongKey)
        #expect(throws: OffChainStoreError.self) { try keyring.retire(version: 2) }
    }

    @Test func aRotationWhileTheTokenIsUnreachableChangesNothing() throws {
        // The token on the other end of a socket (p11-kit's remoting), as a network HSM. p11-kit
        // 0.24 does not forward AES-GCM parameters, so records are sealed through SoftHSM directly;
        // the remote connection manages the key versions.
        let label = Self.uniqueLabel()
        let direct = PKCS11CustodianKeys(token: try Self.token("medrex-keys-down"), label: label)
        let custodian = RecordCustodian(keyring: try CustodianKeyring(store: direct))
        let sealed = try custodian.seal(plaintext, recordID: "rec-down", version: 1)
        let remote = try RemoteToken(serving: "medrex-keys-down")
        defer { remote.stop() }
        let keyring = try CustodianKeyring(
            store: PKCS11CustodianKeys(
                token: try PKCS11Token(library: RemoteToken.clientLibrary, tokenLabel: "medrex-keys-down", pin: SoftHSM.userPIN), label: label),
            createFirst: false)
        #expect(keyring.versionNumbers == [1])

        remote.stop()
        let failure = try #require(throws: OffChainStoreError.self) { _ = try keyring.rotate() }
        #expect(failure.code == .keyUnavailable, "\(failure)")
        #expect(failure.reason.contains(RemoteToken.clientLibrary))
        #expect(keyring.versionNumbers == [1])
        // Nothing changed on the token itself, and what it wrapped still opens.
        #expect(try direct.versions().map(\.version) == [1])
        #expect(try custodian.open(sealed, anchoredDigest: digest) == plaintext)
    }

    @Test func fileKeysKeepVersionsBesideTheFirstFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-filekeys-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("custodian-key.pem")
        let keyring = try CustodianKeyring(store: FileCustodianKeys(first: first))
        #expect(FileManager.default.fileExists(atPath: first.path))
        let permissions = try FileManager.default.attributesOfItem(atPath: first.path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        let custodian = RecordCustodian(keyring: keyring)
        let before = try custodian.seal(plaintext, recordID: "rec-f", version: 1)
        #expect(try keyring.rotate().version == 2)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("custodian-key.v2.pem").path))
        let after = try custodian.seal(plaintext, recordID: "rec-f", version: 2)
        #expect(after.wrappedKeys[0].keyVersion == 2)
        // A second peer opening the same files sees both versions.
        let reopened = RecordCustodian(keyring: try CustodianKeyring(store: FileCustodianKeys(first: first)))
        #expect(reopened.keyring.versionNumbers == [1, 2])
        #expect(try reopened.open(before, anchoredDigest: digest) == plaintext)
        // Creating a version that exists is refused (O_EXCL), not overwritten.
        #expect(throws: OffChainStoreError.self) { _ = try FileCustodianKeys(first: first).create(version: 2) }
        try keyring.retire(version: 1)
        #expect(!FileManager.default.fileExists(atPath: first.path))
        #expect(throws: OffChainStoreError.self) { try custodian.open(before, anchoredDigest: digest) }
        #expect(try custodian.open(after, anchoredDigest: digest) == plaintext)
    }
}
