import Crypto
import Foundation
import Synchronization

/// One version of an organization's custodian key: what wraps the data key of every record
/// version the organization keeps. Versions are numbered from 1; every wrapped data key records the
/// version it was wrapped under (`WrappedKey.keyVersion`), so a rotation can find what is left to
/// re-wrap and when an old version may be retired.
package protocol CustodianKeyVersion: Sendable {
    var version: UInt32 { get }
    /// Names the key in wrapped keys and errors; reveals nothing secret.
    var keyID: String { get }
    /// How it wraps data keys (stored with each wrapped key).
    var algorithm: KeyWrapAlgorithm { get }
    /// Wraps a 256-bit data key, bound to the record id and version it protects.
    func wrap(_ dataKey: SymmetricKey, recordID: String, version: UInt32) throws(OffChainStoreError) -> WrappedKey
    /// Unwraps what `wrap` made; `.wrongKey` when it does not open (another key, or a changed
    /// wrapped key, record id or version).
    func unwrap(_ wrapped: WrappedKey, recordID: String, version: UInt32) throws(OffChainStoreError) -> SymmetricKey
}

/// Where an organization's custodian key versions live: a PKCS#11 token (`PKCS11CustodianKeys`)
/// or a directory of PEM files (`FileCustodianKeys`, the sample network's). Every peer of the
/// organization opens the same place, so they share the versions.
package protocol CustodianKeyStore: Sendable {
    /// Where the keys are, for messages (`PKCS#11 token 'X'`, `key directory /path`).
    var location: String { get }
    /// The versions present now (not retired), in any order.
    func versions() throws(OffChainStoreError) -> [any CustodianKeyVersion]
    /// Makes version `version` (one above the highest present). Throws when it exists already.
    func create(version: UInt32) throws(OffChainStoreError) -> any CustodianKeyVersion
    /// Destroys version `version`: whatever only it wraps can no longer be read.
    func destroy(version: UInt32) throws(OffChainStoreError)
}

/// The custodian's key versions as one peer uses them: new data keys are wrapped under the highest
/// version; a wrapped key opens under the version it records. Versions made by another peer or by
/// `medrex phi rotate-key` are found on the next `refresh` (called when a wrapped key names a
/// version not loaded, and by the re-wrap job).
package final class CustodianKeyring: Sendable {
    package let store: any CustodianKeyStore
    private let loaded: Mutex<[UInt32: any CustodianKeyVersion]>

    /// Loads the store's versions; when it has none, makes version 1 if `createFirst`.
    package init(store: any CustodianKeyStore, createFirst: Bool = true) throws(OffChainStoreError) {
        self.store = store
        var versions = try store.versions()
        if versions.isEmpty {
            guard createFirst else { throw OffChainStoreError(.keyUnavailable, "\(store.location) holds no custodian key") }
            versions = [try store.create(version: 1)]
        }
        loaded = Mutex(Dictionary(versions.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first }))
    }

    /// The version new data keys are wrapped under: the highest loaded.
    package var current: any CustodianKeyVersion {
        loaded.withLock { versions in versions.max { $0.key < $1.key }!.value }
    }

    /// The loaded version numbers, lowest first.
    package var versionNumbers: [UInt32] { loaded.withLock { $0.keys.sorted() } }

    /// Reloads the versions from the store (a rotation elsewhere adds one, a retirement removes
    /// one). Keeps the loaded ones when the store fails or answers with none.
    package func refresh() throws(OffChainStoreError) {
        let versions = try store.versions()
        guard !versions.isEmpty else { return }
        let byVersion = Dictionary(versions.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        loaded.withLock { $0 = byVersion }
    }

    /// Makes the next version and loads it: from now on new data keys are wrapped under it.
    package func rotate() throws(OffChainStoreError) -> any CustodianKeyVersion {
        try refresh()
        let highest = versionNumbers.last ?? 0
        guard highest < UInt32.max else { throw OffChainStoreError(.keyUnavailable, "the custodian key has no version numbers left") }
        let created = try store.create(version: highest + 1)
        loaded.withLock { $0[created.version] = created }
        return created
    }

    /// Destroys an old version (never the current one) and forgets it.
    package func retire(version: UInt32) throws(OffChainStoreError) {
        guard version != current.version else {
            throw OffChainStoreError(.invalidArgument, "custodian key version \(version) is the current one and cannot be retired")
        }
        try store.destroy(version: version)
        _ = loaded.withLock { $0.removeValue(forKey: version) }
    }

    /// Destroys a version just made whose rotation could not be completed (even the current one),
    /// and reloads; its keys wrapped nothing yet.
    package func discard(version: UInt32) throws(OffChainStoreError) {
        try store.destroy(version: version)
        _ = loaded.withLock { $0.removeValue(forKey: version) }
        try refresh()
    }

    /// The loaded versions, lowest first.
    package var loadedVersions: [any CustodianKeyVersion] { loaded.withLock { $0.sorted { $0.key < $1.key }.map(\.value) } }

    /// Wraps under the current version.
    func wrap(_ dataKey: SymmetricKey, recordID: String, version: UInt32) throws(OffChainStoreError) -> WrappedKey {
        try current.wrap(dataKey, recordID: recordID, version: version)
    }

    /// The version a wrapped key names, loading versions made since the last refresh.
    func version(of wrapped: WrappedKey) throws(OffChainStoreError) -> (any CustodianKeyVersion)? {
        if let key = loaded.withLock({ $0[wrapped.keyVersion] }) { return key }
        try refresh()
        return loaded.withLock { $0[wrapped.keyVersion] }
    }
}

// MARK: - Keys in PEM files

/// Custodian keys as P-256 key-agreement keys in PEM files (mode 0600), data keys wrapped with
/// HPKE: the sample network's keys. Version 1 is `first` (the `phi.custodianKey` file, by default
/// `phi/custodian-key.pem` of the peer's data directory); version n > 1 is `custodian-key.v<n>.pem`
/// beside it.
package struct FileCustodianKeys: CustodianKeyStore {
    package let first: URL

    package init(first: URL) { self.first = first }

    package var location: String { "key directory \(first.deletingLastPathComponent().path)" }

    func file(_ version: UInt32) -> URL {
        version == 1 ? first : first.deletingLastPathComponent().appendingPathComponent("custodian-key.v\(version).pem")
    }

    package func versions() throws(OffChainStoreError) -> [any CustodianKeyVersion] {
        let directory = first.deletingLastPathComponent()
        var numbers: [UInt32] = FileManager.default.fileExists(atPath: first.path) ? [1] : []
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.hasPrefix("custodian-key.v") && name.hasSuffix(".pem") {
            if let number = UInt32(name.dropFirst("custodian-key.v".count).dropLast(".pem".count)), number > 1 { numbers.append(number) }
        }
        return try numbers.map { number throws(OffChainStoreError) in try load(number) }
    }

    private func load(_ version: UInt32) throws(OffChainStoreError) -> any CustodianKeyVersion {
        let path = file(version)
        guard let pem = try? String(contentsOf: path, encoding: .utf8) else {
            throw OffChainStoreError(.keyUnavailable, "cannot read custodian key version \(version) (\(path.path))")
        }
        do {
            return FileCustodianKey(version: version, privateKey: try P256.KeyAgreement.PrivateKey(pemRepresentation: pem))
        } catch {
            throw OffChainStoreError(.keyUnavailable, "\(path.path) is not a PEM P-256 private key")
        }
    }

    package func create(version: UInt32) throws(OffChainStoreError) -> any CustodianKeyVersion {
        let path = file(version)
        let key = P256.KeyAgreement.PrivateKey()
        do {
            try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw OffChainStoreError(.keyUnavailable, "cannot create the key directory of \(path.path)")
        }
        // O_EXCL: two peers rotating at once cannot both write version n.
        let descriptor = open(path.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw OffChainStoreError(.keyUnavailable, "cannot create custodian key version \(version) (\(path.path)): it exists or the directory is not writable")
        }
        let bytes = Array(key.pemRepresentation.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced else {
            unlink(path.path)
            throw OffChainStoreError(.keyUnavailable, "cannot write custodian key version \(version) (\(path.path))")
        }
        return FileCustodianKey(version: version, privateKey: key)
    }

    package func destroy(version: UInt32) throws(OffChainStoreError) {
        let path = file(version)
        // Overwritten before it is unlinked, so the key's bytes do not stay in the file's blocks.
        if let handle = FileHandle(forWritingAtPath: path.path) {
            let size = (try? handle.seekToEnd()) ?? 0
            try? handle.seek(toOffset: 0)
            try? handle.write(contentsOf: Data(count: Int(min(size, 1 << 20))))
            try? handle.synchronize()
            try? handle.close()
        }
        guard unlink(path.path) == 0 || errno == ENOENT else {
            throw OffChainStoreError(.keyUnavailable, "cannot remove custodian key version \(version) (\(path.path))")
        }
    }
}

/// A P-256 key-agreement key in memory; wraps with HPKE (`DataKeyWrapping`).
package struct FileCustodianKey: CustodianKeyVersion {
    package let version: UInt32
    private let privateKey: P256.KeyAgreement.PrivateKey
    private let recipient: RecipientKey

    package init(version: UInt32, privateKey: P256.KeyAgreement.PrivateKey) {
        self.version = version
        self.privateKey = privateKey
        recipient = RecipientKey(publicKey: privateKey.publicKey)
    }

    package var keyID: String { recipient.keyID }
    package var algorithm: KeyWrapAlgorithm { .hpkeP256SHA256AES256GCM }

    package func wrap(_ dataKey: SymmetricKey, recordID: String, version: UInt32) throws(OffChainStoreError) -> WrappedKey {
        try DataKeyWrapping.wrap(dataKey, for: recipient, recordID: recordID, version: version).under(keyVersion: self.version)
    }

    package func unwrap(_ wrapped: WrappedKey, recordID: String, version: UInt32) throws(OffChainStoreError) -> SymmetricKey {
        guard wrapped.algorithm == .hpkeP256SHA256AES256GCM, wrapped.recipientKeyID == keyID else {
            throw OffChainStoreError(.wrongKey, "the data key of record '\(recordID)' version \(version) is not wrapped for custodian key \(keyID)")
        }
        return try DataKeyWrapping.unwrap(wrapped, with: privateKey, recordID: recordID, version: version)
    }
}

/// A fixed set of file keys, for tests and tools that hold keys in memory.
package final class InMemoryCustodianKeys: CustodianKeyStore {
    private let keys: Mutex<[UInt32: P256.KeyAgreement.PrivateKey]>

    package init(_ keys: [P256.KeyAgreement.PrivateKey]) {
        self.keys = Mutex(Dictionary(uniqueKeysWithValues: keys.enumerated().map { (UInt32($0.offset + 1), $0.element) }))
    }

    package var location: String { "memory" }

    package func versions() throws(OffChainStoreError) -> [any CustodianKeyVersion] {
        keys.withLock { $0.map { FileCustodianKey(version: $0.key, privateKey: $0.value) } }
    }

    package func create(version: UInt32) throws(OffChainStoreError) -> any CustodianKeyVersion {
        let key = P256.KeyAgreement.PrivateKey()
        let inserted = keys.withLock { keys in
            guard keys[version] == nil else { return false }
            keys[version] = key
            return true
        }
        guard inserted else { throw OffChainStoreError(.keyUnavailable, "custodian key version \(version) exists") }
        return FileCustodianKey(version: version, privateKey: key)
    }

    package func destroy(version: UInt32) throws(OffChainStoreError) {
        _ = keys.withLock { $0.removeValue(forKey: version) }
    }
}

// MARK: - Keys in a PKCS#11 token

/// Custodian keys as AES-256 keys inside a PKCS#11 token (an HSM; SoftHSM in tests), labelled
/// `<label>-v<n>`, created sensitive and not extractable: the key bytes never leave the token.
/// A data key is wrapped by AES-256-GCM inside the token (a fresh 12-byte nonce, the record id and
/// version as associated data).
package struct PKCS11CustodianKeys: CustodianKeyStore {
    package let token: PKCS11Token
    /// The key label's prefix, e.g. `medrex-custodian`.
    package let label: String

    package init(token: PKCS11Token, label: String) {
        self.token = token
        self.label = label
    }

    package var location: String { "PKCS#11 token '\(token.tokenLabel)'" }

    package func versions() throws(OffChainStoreError) -> [any CustodianKeyVersion] {
        let prefix = label + "-v"
        let versions: [PKCS11CustodianKey] = try token.secretKeys().compactMap { key in
            guard key.label.hasPrefix(prefix), let version = UInt32(key.label.dropFirst(prefix.count)), version > 0 else { return nil }
            return PKCS11CustodianKey(version: version, token: token, key: key)
        }
        // Two objects with one label (made by two peers at once) would wrap differently on each
        // peer: refuse rather than pick one.
        let duplicated = Dictionary(grouping: versions, by: \.version).filter { $0.value.count > 1 }.keys.sorted()
        guard duplicated.isEmpty else {
            throw OffChainStoreError(
                .keyUnavailable, "token '\(token.tokenLabel)' holds several keys labelled \(duplicated.map { "\(label)-v\($0)" }.joined(separator: ", "))")
        }
        return versions
    }

    package func create(version: UInt32) throws(OffChainStoreError) -> any CustodianKeyVersion {
        let name = "\(label)-v\(version)"
        guard try !token.secretKeys().contains(where: { $0.label == name }) else {
            throw OffChainStoreError(.keyUnavailable, "custodian key '\(name)' exists on token '\(token.tokenLabel)'")
        }
        return PKCS11CustodianKey(version: version, token: token, key: try token.generateAESKey(label: name))
    }

    package func destroy(version: UInt32) throws(OffChainStoreError) {
        let name = "\(label)-v\(version)"
        for key in try token.secretKeys() where key.label == name { try token.destroy(key) }
    }
}

/// One AES-256 key version inside a PKCS#11 token.
struct PKCS11CustodianKey: CustodianKeyVersion {
    let version: UInt32
    let token: PKCS11Token
    let key: PKCS11Token.SecretKey

    var keyID: String { key.label }
    var algorithm: KeyWrapAlgorithm { .pkcs11AES256GCM }

    func wrap(_ dataKey: SymmetricKey, recordID: String, version: UInt32) throws(OffChainStoreError) -> WrappedKey {
        guard dataKey.bitCount == 256 else { throw OffChainStoreError(.badKey, "data key is not 256 bits") }
        let nonce = Data(AES.GCM.Nonce())
        let sealed = try token.encrypt(
            dataKey.withUnsafeBytes { Data($0) }, key: key, nonce: nonce, associatedData: RecordCipher.associatedData(recordID, version))
        return WrappedKey(recipientKeyID: keyID, encapsulatedKey: nonce, ciphertext: sealed, algorithm: .pkcs11AES256GCM, keyVersion: self.version)
    }

    func unwrap(_ wrapped: WrappedKey, recordID: String, version: UInt32) throws(OffChainStoreError) -> SymmetricKey {
        guard wrapped.algorithm == .pkcs11AES256GCM, wrapped.recipientKeyID == keyID else {
            throw OffChainStoreError(.wrongKey, "the data key of record '\(recordID)' version \(version) is not wrapped for custodian key \(keyID)")
        }
        let bytes: Data
        do {
            bytes = try token.decrypt(wrapped.ciphertext, key: key, nonce: wrapped.encapsulatedKey, associatedData: RecordCipher.associatedData(recordID, version))
        } catch where error.code == .wrongKey || error.code == .badKey {
            throw OffChainStoreError(
                .wrongKey, "the wrapped data key of record '\(recordID)' version \(version) does not open with custodian key \(keyID)")
        }
        guard bytes.count == 32 else { throw OffChainStoreError(.badKey, "the unwrapped data key of record '\(recordID)' is not 256 bits") }
        return SymmetricKey(data: bytes)
    }
}
