import Crypto
import Foundation
import Testing

@testable import OffChainStore

/// The semantics every `OffChainStore` backend keeps, run against each (STYLE §6: one shared
/// suite for every storage backend).
@Suite(.postgresServer, .timeLimit(.minutes(1)))
struct OffChainStoreSuite {
    let custodian = RecordCustodian(privateKey: P256.KeyAgreement.PrivateKey())
    let clock = TestClock()

    func plaintext(_ text: String) -> Data { Data(#"{"patient":"P-0042","note":"\#(text)"}"#.utf8) }
    func digest(_ data: Data) -> Data { Data(SHA256.hash(data: data)) }

    @Test(arguments: StoreBackend.allCases)
    func roundTripWithRewrapForARequester(_ backend: StoreBackend) async throws {
        try await backend.withHarness(clock: clock) { harness in
            let store = harness.store
            let first = plaintext("angina, version 1")
            let second = plaintext("angina, version 2")
            try await store.put([
                try custodian.seal(first, recordID: "rec-1", version: 1),
                try custodian.seal(second, recordID: "rec-1", version: 2),
            ])
            #expect(try await store.get(recordID: "rec-1", version: 3) == nil)
            #expect(try await store.get(recordID: "rec-9", version: 1) == nil)
            #expect(try await store.latest(recordID: "rec-9") == nil)
            let latest = try #require(try await store.latest(recordID: "rec-1"))
            #expect(latest.encrypted.version == 2)
            #expect(latest.state == .pending)
            #expect(latest.createdAt == clock.now)
            #expect(latest.encrypted.wrappedKeys.map(\.recipientKeyID) == [custodian.currentKey.keyID])
            #expect(try await store.versions(of: "rec-1").map(\.version) == [1, 2])
            #expect(try await store.versions(of: "rec-1").map(\.plaintextDigest) == [digest(first), digest(second)])
            #expect(try await store.read(recordID: "rec-1", version: 1, anchoredDigest: digest(first), custodian: custodian) == first)

            let requester = RecordRequester(privateKey: P256.KeyAgreement.PrivateKey())
            let released = try await store.release(
                recordID: "rec-1", version: 2, anchoredDigest: digest(second), custodian: custodian, to: requester.key)
            #expect(released.wrappedKey.recipientKeyID == requester.key.keyID)
            #expect(try requester.open(released.sealed, wrappedKey: released.wrappedKey, anchoredDigest: digest(second)) == second)

            let bystander = RecordRequester(privateKey: P256.KeyAgreement.PrivateKey())
            #expect(throws: OffChainStoreError.self) {
                try bystander.open(released.sealed, wrappedKey: released.wrappedKey, anchoredDigest: digest(second))
            }
            await #expect(throws: OffChainStoreError.self) {
                try await store.release(recordID: "rec-1", version: 2, anchoredDigest: digest(first), custodian: custodian, to: requester.key)
            }
            let stranger = RecordCustodian(privateKey: P256.KeyAgreement.PrivateKey())
            await #expect(throws: OffChainStoreError.self) {
                try await store.read(recordID: "rec-1", version: 1, anchoredDigest: digest(first), custodian: stranger)
            }

            try await store.markAnchored(recordID: "rec-1", version: 1)
            try await store.markAnchored(recordID: "rec-1", version: 1)
            #expect(try await store.versions(of: "rec-1").map(\.state) == [.anchored, .pending])
            await #expect(throws: OffChainStoreError.self) { try await store.markAnchored(recordID: "rec-1", version: 7) }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func keyRotationFindsAndReplacesWrapsUnderOlderVersions(_ backend: StoreBackend) async throws {
        try await backend.withHarness(clock: clock) { harness in
            let store = harness.store
            let keyring = try CustodianKeyring(store: InMemoryCustodianKeys([P256.KeyAgreement.PrivateKey()]))
            let custodian = RecordCustodian(keyring: keyring)
            let text = plaintext("rotation")
            try await store.put((1...4).map { try custodian.seal(text, recordID: "rec-\($0)", version: 1) })
            try await store.put(try custodian.seal(text, recordID: "rec-2", version: 2))
            #expect(try await store.wrapCounts() == [1: 5])
            _ = try keyring.rotate()
            try await store.put(try custodian.seal(text, recordID: "rec-5", version: 1))
            #expect(try await store.wrapCounts() == [1: 5, 2: 1])

            let first = try await store.wrapsToRotate(notUnder: 2, after: nil, limit: 2)
            #expect(first.map(\.id) == [RecordVersionID(recordID: "rec-1", version: 1), RecordVersionID(recordID: "rec-2", version: 1)])
            #expect(first.allSatisfy { $0.position == 0 && $0.wrapped.keyVersion == 1 })
            let second = try await store.wrapsToRotate(notUnder: 2, after: first.last?.id, limit: 10)
            #expect(second.map(\.id.description) == ["'rec-2' version 2", "'rec-3' version 1", "'rec-4' version 1"])

            let replacements = try (first + second).map {
                WrapReplacement(old: $0, new: try custodian.rewrapToCurrent($0.wrapped, recordID: $0.id.recordID, version: $0.id.version))
            }
            // A replacement whose old key is not the stored one (changed meanwhile) is skipped.
            let stale = WrapReplacement(
                old: StoredWrap(id: first[0].id, position: 0, wrapped: replacements[1].new), new: replacements[0].new)
            #expect(try await store.replaceWraps([stale]) == 0)
            #expect(try await store.replaceWraps(replacements) == 5)
            #expect(try await store.replaceWraps(replacements) == 0)
            #expect(try await store.wrapCounts() == [2: 6])
            #expect(try await store.wrapsToRotate(notUnder: 2, after: nil, limit: 10).isEmpty)
            try keyring.retire(version: 1)
            for id in replacements.map(\.old.id) {
                #expect(try await store.read(recordID: id.recordID, version: id.version, anchoredDigest: digest(text), custodian: custodian) == text)
            }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func versionsAreImmutable(_ backend: StoreBackend) async throws {
        try await backend.withHarness(clock: clock) { harness in
            let store = harness.store
            let original = plaintext("original")
            try await store.put(try custodian.seal(original, recordID: "rec-1", version: 1))

            let overwrite = try custodian.seal(plaintext("overwrite"), recordID: "rec-1", version: 1)
            let error = await #expect(throws: OffChainStoreError.self) { try await store.put(overwrite) }
            #expect(error?.code == .versionExists)
            #expect(error?.reason.contains("'rec-1' version 1") == true)

            // A batch with one existing version writes nothing.
            let batch = [
                try custodian.seal(plaintext("two"), recordID: "rec-1", version: 2),
                try custodian.seal(plaintext("again"), recordID: "rec-1", version: 1),
            ]
            await #expect(throws: OffChainStoreError.self) { try await store.put(batch) }
            #expect(try await store.versions(of: "rec-1").map(\.version) == [1])

            let repeated = try custodian.seal(plaintext("three"), recordID: "rec-1", version: 3)
            let repeatError = await #expect(throws: OffChainStoreError.self) { try await store.put([repeated, repeated]) }
            #expect(repeatError?.code == .versionExists)

            try await store.markAnchored(recordID: "rec-1", version: 1)
            await #expect(throws: OffChainStoreError.self) { try await store.put(overwrite) }
            #expect(try await store.read(recordID: "rec-1", version: 1, anchoredDigest: digest(original), custodian: custodian) == original)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func deletesPendingVersionsOlderThanTheCutoffOnly(_ backend: StoreBackend) async throws {
        try await backend.withHarness(clock: clock) { harness in
            let store = harness.store
            let start = clock.now
            try await store.put([
                try custodian.seal(plaintext("a1"), recordID: "rec-a", version: 1),
                try custodian.seal(plaintext("b1"), recordID: "rec-b", version: 1),
            ])
            try await store.markAnchored(recordID: "rec-b", version: 1)
            clock.advance(by: 3_600)
            try await store.put(try custodian.seal(plaintext("a2"), recordID: "rec-a", version: 2))

            #expect(try await store.pendingVersions(createdBefore: start).isEmpty)
            #expect(try await store.pendingVersions(createdBefore: start.addingTimeInterval(1_800)) == [RecordVersionID(recordID: "rec-a", version: 1)])
            #expect(
                try await store.pendingVersions(createdBefore: clock.now.addingTimeInterval(1))
                    == [RecordVersionID(recordID: "rec-a", version: 1), RecordVersionID(recordID: "rec-a", version: 2)])
            #expect(try await store.deletePending(createdBefore: start) == 0)
            #expect(try await store.deletePending(createdBefore: start.addingTimeInterval(1_800)) == 1)
            #expect(try await store.versions(of: "rec-a").map(\.version) == [2])
            #expect(try await store.get(recordID: "rec-a", version: 1) == nil)
            #expect(try await store.latest(recordID: "rec-a")?.encrypted.version == 2)

            #expect(try await store.deletePending(createdBefore: clock.now.addingTimeInterval(86_400)) == 1)
            #expect(try await store.versions(of: "rec-a").isEmpty)
            #expect(try await store.versions(of: "rec-b").map(\.state) == [.anchored])
            // A deleted pending version's number may be written again (its anchor never committed).
            try await store.put(try custodian.seal(plaintext("a1 again"), recordID: "rec-a", version: 1))
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func oneChangedCiphertextByteFailsTheReadWithAnIntegrityError(_ backend: StoreBackend) async throws {
        try await backend.withHarness(clock: clock) { harness in
            let text = plaintext("tamper target")
            try await harness.store.put([
                try custodian.seal(text, recordID: "rec-1", version: 1),
                try custodian.seal(text, recordID: "rec-2", version: 1),
            ])
            try await harness.store.verify(recordID: "rec-1", version: 1, expectedDigest: digest(text), custodian: custodian)
            try await harness.corruptCiphertextByte(recordID: "rec-1", version: 1)
            let store = harness.store

            let readError = await #expect(throws: OffChainStoreError.self) {
                try await store.read(recordID: "rec-1", version: 1, anchoredDigest: digest(text), custodian: custodian)
            }
            #expect(readError?.isIntegrityFailure == true)
            #expect(readError?.code == .tampered)
            let verifyError = await #expect(throws: OffChainStoreError.self) {
                try await store.verify(recordID: "rec-1", version: 1, expectedDigest: digest(text), custodian: custodian)
            }
            #expect(verifyError?.isIntegrityFailure == true)
            let requester = RecordRequester(privateKey: P256.KeyAgreement.PrivateKey())
            await #expect(throws: OffChainStoreError.self) {
                try await store.release(recordID: "rec-1", version: 1, anchoredDigest: digest(text), custodian: custodian, to: requester.key)
            }

            // The untouched record still verifies; a wrong expected digest is an integrity error.
            try await store.verify(recordID: "rec-2", version: 1, expectedDigest: digest(text), custodian: custodian)
            let digestError = await #expect(throws: OffChainStoreError.self) {
                try await store.verify(recordID: "rec-2", version: 1, expectedDigest: digest(Data("other".utf8)), custodian: custodian)
            }
            #expect(digestError?.code == .digestMismatch)
            let missing = await #expect(throws: OffChainStoreError.self) {
                try await store.verify(recordID: "rec-3", version: 1, expectedDigest: digest(text), custodian: custodian)
            }
            #expect(missing?.code == .notFound)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func refusesInvalidArgumentsAndWritesNothing(_ backend: StoreBackend) async throws {
        try await backend.withHarness(clock: clock) { harness in
            let store = harness.store
            let sealed = try custodian.seal(plaintext("x"), recordID: "rec-1", version: 1)
            let invalid: [[EncryptedRecordVersion]] = [
                [],
                [EncryptedRecordVersion(sealed: sealed.sealed, wrappedKeys: [])],
                [EncryptedRecordVersion(sealed: sealed.sealed, wrappedKeys: Array(repeating: sealed.wrappedKeys[0], count: OffChainStoreLimits.wrappedKeysPerRecordMax + 1))],
            ]
            for batch in invalid {
                let error = await #expect(throws: OffChainStoreError.self) { try await store.put(batch) }
                #expect(error?.code == .invalidArgument)
            }
            for recordID in ["", "a\u{0}b"] {
                let error = await #expect(throws: OffChainStoreError.self) { _ = try await store.get(recordID: recordID, version: 1) }
                #expect(error?.code == .invalidArgument)
            }
            #expect(try await store.versions(of: "rec-1").isEmpty)
            #expect(try await store.deletePending(createdBefore: clock.now.addingTimeInterval(1)) == 0)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func erasureDestroysTheVersionsAndLeavesTheRest(_ backend: StoreBackend) async throws {
        try await backend.withHarness(clock: clock) { harness in
            let store = harness.store
            let text = plaintext("to be erased")
            let erased = try (1...2).map { try custodian.seal(text, recordID: "rec-e", version: UInt32($0)) }
            let kept = try custodian.seal(plaintext("kept"), recordID: "rec-k", version: 1)
            try await store.put(erased + [kept])
            try await store.markAnchored(recordID: "rec-e", version: 1)
            let ids = erased.map { RecordVersionID(recordID: $0.recordID, version: $0.version) }
            #expect(try await store.erase(ids + [RecordVersionID(recordID: "rec-none", version: 1)]) == 2)
            #expect(try await store.erase(ids) == 0)
            #expect(try await store.get(recordID: "rec-e", version: 1) == nil)
            #expect(try await store.latest(recordID: "rec-e") == nil)
            #expect(try await store.versions(of: "rec-e").isEmpty)
            #expect(try await store.wrapCounts() == [1: 1])
            #expect(try await store.pendingVersions(createdBefore: clock.now.addingTimeInterval(1)).map(\.recordID) == ["rec-k"])
            #expect(try await store.read(recordID: "rec-k", version: 1, anchoredDigest: digest(plaintext("kept")), custodian: custodian) == plaintext("kept"))
        }
    }

    @Test(arguments: StoreBackend.onDisk)
    func noByteOfAnErasedVersionStaysInTheStoresFiles(_ backend: StoreBackend) async throws {
        try await backend.withHarness(clock: clock) { harness in
            let store = harness.store
            let erased = try custodian.seal(plaintext("erase me " + String(repeating: "e", count: 400)), recordID: "rec-gone", version: 1)
            let kept = try custodian.seal(plaintext("keep me " + String(repeating: "k", count: 400)), recordID: "rec-kept", version: 1)
            try await store.put([erased, kept])
            try await store.markAnchored(recordID: "rec-gone", version: 1)
            // PostgreSQL keeps bytea raw; the embedded store's JSON rows keep it in base64 (48
            // bytes: a whole number of base64 groups, so the prefix encodes alike in the row), with
            // JSON's escaped slashes.
            func needle(_ bytes: Data) -> Data {
                guard backend == .embedded else { return bytes.prefix(48) }
                return Data(bytes.prefix(48).base64EncodedString().replacingOccurrences(of: "/", with: "\\/").utf8)
            }
            let needles = [needle(erased.sealed.ciphertext), needle(erased.wrappedKeys[0].ciphertext)]
            // PostgreSQL's data files (its write-ahead log keeps history until it is recycled).
            func dataFiles() async throws -> URL {
                let directory = try await harness.flushedStorageDirectory()
                return backend == .postgres ? directory.appendingPathComponent("base") : directory
            }
            let before = try StorageScan(directory: try await dataFiles())
            // The control: the scan finds the bytes while they are stored.
            #expect(!before.files(containing: needles[0]).isEmpty)

            #expect(try await store.erase([RecordVersionID(recordID: "rec-gone", version: 1)]) == 1)
            try await harness.reclaimDeletedSpace()
            let after = try StorageScan(directory: try await dataFiles())
            for needle in needles { #expect(after.files(containing: needle).isEmpty, "erased bytes still in \(after.files(containing: needle))") }
            #expect(!after.files(containing: needle(kept.sealed.ciphertext)).isEmpty)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func oneHolderHasALeaseUntilItExpires(_ backend: StoreBackend) async throws {
        try await backend.withHarness(clock: clock) { harness async throws in
            let store = harness.store
            #expect(try await store.acquireLease("job", holder: "peer-1", for: 60))
            #expect(try await store.acquireLease("job", holder: "peer-1", for: 60))
            // The embedded store belongs to one process: its lease is always taken.
            if backend != .embedded {
                #expect(try await !store.acquireLease("job", holder: "peer-2", for: 60))
                #expect(try await store.acquireLease("other-job", holder: "peer-2", for: 60))
                clock.advance(by: 61)
                #expect(try await store.acquireLease("job", holder: "peer-2", for: 60))
                #expect(try await !store.acquireLease("job", holder: "peer-1", for: 60))
            }
        }
    }

    @Test(arguments: StoreBackend.onDisk)
    func plaintextNeverReachesTheStoresFiles(_ backend: StoreBackend) async throws {
        try await backend.withHarness(clock: clock) { harness in
            let marker = "MEDREX-PHI-MARKER-\(UUID().uuidString)"
            let recordID = "record-\(UUID().uuidString)"
            let versions = try (1...20).map { version in
                try custodian.seal(plaintext("\(marker) \(String(repeating: "x", count: version * 50))"), recordID: recordID, version: UInt32(version))
            }
            try await harness.store.put(versions)
            try await harness.store.markAnchored(recordID: recordID, version: 3)
            let directory = try await harness.flushedStorageDirectory()

            let scan = try StorageScan(directory: directory)
            #expect(scan.fileCount > 0)
            // The record id is stored in the clear: finding it shows that the scan reaches the data.
            #expect(!scan.files(containing: Data(recordID.utf8)).isEmpty, "the scan did not find the record id in \(directory.path)")
            #expect(scan.files(containing: Data(marker.utf8)).isEmpty, "plaintext found in the store's files")
        }
    }
}

/// Every regular file under a directory, read once, searched for byte strings.
struct StorageScan {
    private let contents: [(path: String, bytes: Data)]

    init(directory: URL) throws {
        var contents: [(String, Data)] = []
        let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = enumerator?.nextObject() as? URL {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true,
                let bytes = FileManager.default.contents(atPath: url.path)
            else { continue }
            contents.append((url.path, bytes))
        }
        self.contents = contents
    }

    var fileCount: Int { contents.count }

    func files(containing needle: Data) -> [String] {
        contents.filter { $0.bytes.range(of: needle) != nil }.map(\.path)
    }
}
