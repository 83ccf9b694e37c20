import EtcdClient
import Testing

@Suite struct TransactionTests {
    @Test func createIfAbsentWritesOnlyOnce() async throws {
        try await withEachStore { client in
            #expect(try await client.createIfAbsent(bytes("chain/7"), bytes("block seven")))
            #expect(try await !client.createIfAbsent(bytes("chain/7"), bytes("another block seven")))
            #expect(try await client.get(bytes("chain/7"))?.value == bytes("block seven"))

            // Once deleted, the key is absent again.
            try await client.delete(bytes("chain/7"))
            #expect(try await client.createIfAbsent(bytes("chain/7"), bytes("again")))
        }
    }

    @Test func compareAndSwapOnModRevisionFailsWhenStale() async throws {
        try await withEachStore { client in
            try await client.put(bytes("height"), bytes("10"))
            let seen = try #require(try await client.get(bytes("height")))

            // Someone else moves the key on: the revision we read is now stale.
            try await client.put(bytes("height"), bytes("11"))
            let stale = try await client.transaction(
                compare: [.modRevision(of: bytes("height"), .equal, seen.modRevision)],
                success: [.put(key: bytes("height"), value: bytes("11 from us"))],
                failure: [.range(.key(bytes("height")))]
            )
            #expect(!stale.succeeded)
            guard case .range(let current) = try #require(stale.results.first) else {
                Issue.record("the failure branch's read is missing: \(stale.results)")
                return
            }
            #expect(current.keyValues.first?.value == bytes("11"))

            // With the current revision the swap goes through, and its put and delete both apply.
            let fresh = try #require(current.keyValues.first)
            let swapped = try await client.transaction(
                compare: [.modRevision(of: bytes("height"), .equal, fresh.modRevision), .value(of: bytes("height"), .equal, bytes("11"))],
                success: [.put(key: bytes("height"), value: bytes("12")), .delete(.key(bytes("lock")))]
            )
            #expect(swapped.succeeded)
            #expect(swapped.results == [.put, .delete(deleted: 0)])
            #expect(try await client.get(bytes("height"))?.modRevision == swapped.revision)
        }
    }

    @Test func compareOnVersionAndCreateRevision() async throws {
        try await withEachStore { client in
            let created = try await client.put(bytes("a"), bytes("1"))
            try await client.put(bytes("a"), bytes("2"))
            let result = try await client.transaction(
                compare: [
                    .version(of: bytes("a"), .equal, 2),
                    .createRevision(of: bytes("a"), .equal, created),
                    .version(of: bytes("absent"), .equal, 0),
                    .value(of: bytes("a"), .notEqual, bytes("1")),
                ],
                success: [.range(.key(bytes("a")))]
            )
            #expect(result.succeeded)
            let greater = try await client.transaction(compare: [.version(of: bytes("a"), .greater, 5)], success: [])
            #expect(!greater.succeeded)
        }
    }
}
