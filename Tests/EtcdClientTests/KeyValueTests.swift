import EtcdClient
import Testing

@Suite struct KeyValueTests {
    @Test func putGetRangeAndDelete() async throws {
        try await withEachStore { client in
            #expect(try await client.get(bytes("blocks/0")) == nil)

            let first = try await client.put(bytes("blocks/0"), bytes("genesis"))
            try await client.put(bytes("blocks/1"), bytes("one"))
            try await client.put(bytes("blocks/2"), bytes("two"))
            try await client.put(bytes("other"), bytes("x"))
            let rewritten = try await client.put(bytes("blocks/0"), bytes("genesis again"))
            #expect(rewritten > first)

            let zero = try #require(try await client.get(bytes("blocks/0")))
            #expect(zero.value == bytes("genesis again"))
            #expect(zero.createRevision == first)
            #expect(zero.modRevision == rewritten)
            #expect(zero.version == 2)
            #expect(zero.lease == nil)

            let all = try await client.range(prefix: bytes("blocks/"))
            #expect(all.keyValues.map(\.key) == [bytes("blocks/0"), bytes("blocks/1"), bytes("blocks/2")])
            #expect(all.count == 3)
            #expect(!all.more)
            #expect(all.revision == rewritten)

            let limited = try await client.range(prefix: bytes("blocks/"), limit: 2)
            #expect(limited.keyValues.map(\.value) == [bytes("genesis again"), bytes("one")])
            #expect(limited.more)
            #expect(limited.count == 3)

            let interval = try await client.range(from: bytes("blocks/1"), to: bytes("blocks/2"))
            #expect(interval.keyValues.map(\.key) == [bytes("blocks/1")])

            let everything = try await client.range(prefix: [])
            #expect(everything.count == 4)

            // A read of an older revision sees the store as it was.
            let before = try await client.range(.key(bytes("blocks/0")), limit: 0, revision: first)
            #expect(before.keyValues.first?.value == bytes("genesis"))

            #expect(try await client.delete(bytes("blocks/1")))
            #expect(try await !client.delete(bytes("blocks/1")))
            #expect(try await client.get(bytes("blocks/1")) == nil)
            #expect(try await client.delete(prefix: bytes("blocks/")) == 2)
            #expect(try await client.range(prefix: bytes("blocks/")).count == 0)
            #expect(try await client.get(bytes("other"))?.value == bytes("x"))
        }
    }

    @Test func binaryKeysAndPrefixesEndingInFF() async throws {
        try await withEachStore { client in
            let prefix: [UInt8] = [0x00, 0xff]
            try await client.put(prefix + [0x01], [0x00, 0x01])
            try await client.put(prefix + [0xff, 0xff], [0xfe])
            try await client.put([0x01], [0x02])
            let found = try await client.range(prefix: prefix)
            #expect(found.keyValues.map(\.key) == [prefix + [0x01], prefix + [0xff, 0xff]])
            #expect(found.keyValues.map(\.value) == [[0x00, 0x01], [0xfe]])
        }
    }

    @Test func compactedRevisionsCannotBeRead() async throws {
        try await withEachStore { client in
            let old = try await client.put(bytes("k"), bytes("1"))
            let new = try await client.put(bytes("k"), bytes("2"))
            try await client.compact(revision: new)
            let error = await #expect(throws: EtcdError.self) { try await client.range(.key(bytes("k")), limit: 0, revision: old) }
            #expect(error?.code == .compacted)
            #expect(try await client.get(bytes("k"))?.value == bytes("2"))
        }
    }

    @Test func emptyKeysAreRefused() async throws {
        let client = try EtcdClient(endpoints: ["127.0.0.1:1"], tls: try unusedTLS())
        let error = await #expect(throws: EtcdError.self) { try await client.put([], bytes("v")) }
        #expect(error?.code == .invalidArgument)
        await client.close()
    }
}
