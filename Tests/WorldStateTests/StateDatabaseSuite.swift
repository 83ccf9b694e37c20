import Foundation
import Testing

@testable import WorldState

/// One suite, every backend: the in-memory fake must behave exactly like RocksDB.
@Suite struct StateDatabaseSuite {
    @Test(arguments: StateBackend.allCases)
    func versionsValuesAndDeletes(backend: StateBackend) throws {
        let (database, cleanUp) = try backend.make()
        defer { cleanUp() }
        #expect(try database.savepoint() == nil)
        var first = StateUpdateBatch()
        first.put(namespace: "cc", key: "a", value: bytes("1"), version: version(0, 0))
        first.put(namespace: "cc", key: "b", value: bytes("2"), version: version(0, 1))
        first.put(namespace: "other", key: "a", value: bytes("x"), version: version(0, 2))
        try database.apply(first, blockNumber: 0)
        var second = StateUpdateBatch()
        second.put(namespace: "cc", key: "a", value: bytes("1b"), version: version(1, 0))
        second.delete(namespace: "cc", key: "b", version: version(1, 3))
        try database.apply(second, blockNumber: 1)

        let reader = try database.makeReader()
        #expect(reader.height == 1)
        #expect(try database.savepoint() == 1)
        #expect(try reader.get(namespace: "cc", key: "a") == VersionedValue(value: bytes("1b"), version: version(1, 0)))
        #expect(try reader.get(namespace: "cc", key: "b") == nil)
        #expect(try reader.get(namespace: "other", key: "a")?.value == bytes("x"))
        #expect(try reader.getMany(namespace: "cc", keys: ["a", "b", "zz"]).map { $0?.version } == [version(1, 0), nil, nil])
    }

    @Test(arguments: StateBackend.allCases)
    func metadataFollowsFabricsRules(backend: StateBackend) throws {
        let (database, cleanUp) = try backend.make()
        defer { cleanUp() }
        let policy = [StateMetadataName.validationParameter: bytes("AND('A.peer')")]
        var block0 = StateUpdateBatch()
        block0.put(namespace: "cc", key: "order", value: bytes("v0"), version: version(0, 0))
        block0.putMetadata(namespace: "cc", key: "order", metadata: policy, version: version(0, 0))
        block0.putMetadata(namespace: "cc", key: "ghost", metadata: policy, version: version(0, 1))
        try database.apply(block0, blockNumber: 0)
        #expect(try database.makeReader().get(namespace: "cc", key: "order")?.metadata == policy)
        #expect(try database.makeReader().get(namespace: "cc", key: "ghost") == nil)

        var block1 = StateUpdateBatch()
        block1.put(namespace: "cc", key: "order", value: bytes("v1"), version: version(1, 0))
        try database.apply(block1, blockNumber: 1)
        let afterValueWrite = try #require(try database.makeReader().get(namespace: "cc", key: "order"))
        #expect(afterValueWrite.value == bytes("v1"))
        #expect(afterValueWrite.metadata == policy, "a value write keeps the key's metadata")

        var block2 = StateUpdateBatch()
        block2.putMetadata(namespace: "cc", key: "order", metadata: [:], version: version(2, 0))
        try database.apply(block2, blockNumber: 2)
        let afterMetadataWrite = try #require(try database.makeReader().get(namespace: "cc", key: "order"))
        #expect(afterMetadataWrite.value == bytes("v1"), "a metadata write keeps the value")
        #expect(afterMetadataWrite.metadata.isEmpty)
        #expect(afterMetadataWrite.version == version(2, 0))

        var block3 = StateUpdateBatch()
        block3.putMetadata(namespace: "cc", key: "order", metadata: policy, version: version(3, 0))
        block3.delete(namespace: "cc", key: "order", version: version(3, 1))
        block3.put(namespace: "cc", key: "order", value: bytes("v3"), version: version(3, 2))
        try database.apply(block3, blockNumber: 3)
        let recreated = try #require(try database.makeReader().get(namespace: "cc", key: "order"))
        #expect(recreated == VersionedValue(value: bytes("v3"), version: version(3, 2)), "a delete drops the metadata")

        // Metadata written to a key that does not exist at that transaction is dropped, even when
        // a later transaction of the block creates the key (Fabric applies each transaction's
        // metadata to the key as it then is).
        var block4 = StateUpdateBatch()
        block4.putMetadata(namespace: "cc", key: "late", metadata: policy, version: version(4, 0))
        block4.put(namespace: "cc", key: "late", value: bytes("born"), version: version(4, 1))
        block4.delete(namespace: "cc", key: "order", version: version(4, 2))
        block4.putMetadata(namespace: "cc", key: "order", metadata: policy, version: version(4, 3))
        block4.put(namespace: "cc", key: "order", value: bytes("v4"), version: version(4, 4))
        try database.apply(block4, blockNumber: 4)
        #expect(try database.makeReader().get(namespace: "cc", key: "late") == VersionedValue(value: bytes("born"), version: version(4, 1)))
        #expect(try database.makeReader().get(namespace: "cc", key: "order") == VersionedValue(value: bytes("v4"), version: version(4, 4)))

        // ... but metadata written to a key that existed before the block holds through a later
        // value write in the block, and metadata written after the block created the key holds.
        var block5 = StateUpdateBatch()
        block5.putMetadata(namespace: "cc", key: "late", metadata: policy, version: version(5, 0))
        block5.put(namespace: "cc", key: "late", value: bytes("again"), version: version(5, 1))
        block5.put(namespace: "cc", key: "fresh", value: bytes("new"), version: version(5, 2))
        block5.putMetadata(namespace: "cc", key: "fresh", metadata: policy, version: version(5, 3))
        try database.apply(block5, blockNumber: 5)
        #expect(try database.makeReader().get(namespace: "cc", key: "late") == VersionedValue(value: bytes("again"), version: version(5, 1), metadata: policy))
        #expect(try database.makeReader().get(namespace: "cc", key: "fresh") == VersionedValue(value: bytes("new"), version: version(5, 3), metadata: policy))
    }

    @Test(arguments: StateBackend.allCases)
    func rangeQueriesPageInByteOrder(backend: StateBackend) throws {
        let (database, cleanUp) = try backend.make()
        defer { cleanUp() }
        var batch = StateUpdateBatch()
        let keys = ["a", "b", "b1", "c", "d", "e", "z", "é"]  // UTF-8 byte order: é (0xC3…) after z
        for (index, key) in keys.enumerated() {
            batch.put(namespace: "cc", key: key, value: bytes(key), version: version(0, UInt32(index)))
        }
        batch.put(namespace: "cc2", key: "c", value: bytes("other namespace"), version: version(0, 99))
        try database.apply(batch, blockNumber: 0)
        let reader = try database.makeReader()

        #expect(try reader.range(namespace: "cc", startKey: "b", endKey: "d", pageSize: 100).entries.map(\.key) == ["b", "b1", "c"])
        #expect(try reader.range(namespace: "cc", startKey: "", endKey: "", pageSize: 100).entries.map(\.key) == keys)
        #expect(try reader.range(namespace: "cc", startKey: "e", endKey: "", pageSize: 100).entries.map(\.key) == ["e", "z", "é"])

        var collected: [String] = []
        var start = ""
        var pages = 0
        while true {
            let page = try reader.range(namespace: "cc", startKey: start, endKey: "", pageSize: 3)
            #expect(page.entries.count <= 3)
            collected += page.entries.map(\.key)
            pages += 1
            guard let bookmark = page.bookmark else { break }
            start = bookmark
        }
        #expect(collected == keys)
        #expect(pages == 3)
        #expect(try reader.range(namespace: "cc", startKey: "x", endKey: "y", pageSize: 10) == StatePage(entries: [], bookmark: nil))
    }

    @Test(arguments: StateBackend.allCases)
    func partialCompositeKeyQueries(backend: StateBackend) throws {
        let (database, cleanUp) = try backend.make()
        defer { cleanUp() }
        func composite(_ parts: String...) -> String { "\u{0}" + parts.joined(separator: "\u{0}") + "\u{0}" }
        var batch = StateUpdateBatch()
        let keys = [
            composite("AUDIT", "p1", "2026-01"), composite("AUDIT", "p1", "2026-02"), composite("AUDIT", "p1", "2026-03"),
            composite("AUDIT", "p10", "2026-01"), composite("AUDIT", "p2", "2026-01"), composite("VITAL", "p1", "ecg"),
            "plain-key",
        ]
        for (index, key) in keys.enumerated() {
            batch.put(namespace: "audit", key: key, value: [UInt8(index)], version: version(0, UInt32(index)))
        }
        try database.apply(batch, blockNumber: 0)
        let reader = try database.makeReader()
        let p1 = try reader.partialCompositeKey(namespace: "audit", objectType: "AUDIT", attributes: ["p1"], pageSize: 2)
        #expect(p1.entries.map(\.key) == Array(keys[0..<2]))
        let rest = try reader.partialCompositeKey(namespace: "audit", objectType: "AUDIT", attributes: ["p1"], pageSize: 2, startKey: p1.bookmark)
        #expect(rest.entries.map(\.key) == [keys[2]])
        #expect(rest.bookmark == nil)
        #expect(try reader.partialCompositeKey(namespace: "audit", objectType: "AUDIT", attributes: [], pageSize: 10).entries.count == 5)
        #expect(try reader.partialCompositeKey(namespace: "audit", objectType: "VITAL", attributes: ["p1"], pageSize: 10).entries.map(\.key) == [keys[5]])
    }

    @Test(arguments: StateBackend.allCases)
    func malformedKeysAndOrderAreRefused(backend: StateBackend) throws {
        let (database, cleanUp) = try backend.make()
        defer { cleanUp() }
        let reader = try database.makeReader()
        for (type, attributes) in [("", ["a"]), ("AUDIT", ["bad\u{0}part"]), ("AUDIT", ["\u{10FFFF}"])] {
            do {
                _ = try reader.partialCompositeKey(namespace: "cc", objectType: type, attributes: attributes, pageSize: 1)
                Issue.record("accepted a malformed composite key")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.reason.contains("composite key"))
            }
        }
        var badNamespace = StateUpdateBatch()
        badNamespace.put(namespace: "c\u{0}c", key: "k", value: [1], version: version(0, 0))
        #expect(throws: StorageError.self) { try database.apply(badNamespace, blockNumber: 0) }
        #expect(try database.savepoint() == nil, "a refused batch changes nothing")
        var batch = StateUpdateBatch()
        batch.put(namespace: "cc", key: "k", value: [1], version: version(5, 0))
        #expect(throws: StorageError.self) { try database.apply(batch, blockNumber: 5) }
        try database.apply(batch, blockNumber: 0)
        #expect(throws: StorageError.self) { try database.apply(batch, blockNumber: 0) }
    }

    @Test(arguments: StateBackend.allCases)
    func historyIsNewestFirstWithDeletes(backend: StateBackend) throws {
        let (database, cleanUp) = try backend.make()
        defer { cleanUp() }
        let steps: [(UInt32, Bool)] = [(0, false), (2, false), (1, true), (0, false)]
        for (block, (transaction, isDelete)) in steps.enumerated() {
            var batch = StateUpdateBatch()
            if isDelete {
                batch.delete(namespace: "cc", key: "k", version: version(UInt64(block), transaction))
            } else {
                batch.put(namespace: "cc", key: "k", value: [UInt8(block)], version: version(UInt64(block), transaction))
            }
            batch.put(namespace: "cc", key: "k\u{0}longer", value: [9], version: version(UInt64(block), 7))
            try database.apply(batch, blockNumber: UInt64(block))
        }
        #expect(try database.history(namespace: "cc", key: "k") == [version(3, 0), version(2, 1), version(1, 2), version(0, 0)])
        #expect(try database.history(namespace: "cc", key: "k\u{0}longer").count == 4)
        #expect(try database.history(namespace: "cc", key: "absent").isEmpty)
    }

    /// Readers keep their height and values while later blocks commit concurrently.
    @Test(arguments: StateBackend.allCases)
    func readersAreIsolatedFromConcurrentCommits(backend: StateBackend) async throws {
        let (database, cleanUp) = try backend.make()
        defer { cleanUp() }
        let blockCount: UInt64 = 200
        func batch(_ block: UInt64) -> StateUpdateBatch {
            var batch = StateUpdateBatch()
            for key in ["x", "y"] {
                batch.put(namespace: "cc", key: key, value: StateEncoding.bigEndian(block), version: version(block, 0))
            }
            return batch
        }
        try database.apply(batch(0), blockNumber: 0)
        let held = try database.makeReader()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for block in 1..<blockCount { try database.apply(batch(block), blockNumber: block) }
            }
            group.addTask {
                for _ in 0..<300 {
                    let reader = try database.makeReader()
                    let height = try #require(reader.height)
                    for key in ["x", "y"] {
                        let value = try #require(try reader.get(namespace: "cc", key: key))
                        #expect(value.value == StateEncoding.bigEndian(height), "reader at \(height) saw another block's value")
                    }
                    await Task.yield()
                }
            }
            try await group.waitForAll()
        }
        #expect(held.height == 0)
        #expect(try held.get(namespace: "cc", key: "x")?.value == StateEncoding.bigEndian(UInt64(0)))
        #expect(try database.makeReader().height == blockCount - 1)
    }
}
