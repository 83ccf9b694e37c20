import EtcdClient
import Testing

@Suite struct WatchTests {
    @Test func seesPutsAndDeletesInOrderFromARevision() async throws {
        try await withEachStore { client in
            try await client.put(bytes("log/before"), bytes("not watched"))
            let start = try await client.put(bytes("log/1"), bytes("a"))
            try await client.put(bytes("elsewhere"), bytes("not watched either"))
            try await client.put(bytes("log/2"), bytes("b"))
            try await client.delete(bytes("log/1"))
            let last = try await client.put(bytes("log/2"), bytes("b2"))

            let events = try await collect(4, from: client.watch(prefix: bytes("log/"), fromRevision: start), within: .seconds(10))
            #expect(events.map(\.kind) == [.put, .put, .delete, .put])
            #expect(events.map(\.key) == [bytes("log/1"), bytes("log/2"), bytes("log/1"), bytes("log/2")])
            #expect(events.map(\.value) == [bytes("a"), bytes("b"), [], bytes("b2")])
            #expect(events.map(\.modRevision) == events.map(\.modRevision).sorted())
            #expect(events.first?.modRevision == start)
            #expect(events.last?.modRevision == last)
        }
    }

    @Test func seesChangesMadeAfterItStarts() async throws {
        try await withEachStore { client in
            let now = try await client.range(prefix: bytes("log/")).revision
            let watch = client.watch(prefix: bytes("log/"), fromRevision: now + 1)
            async let events = collect(4, from: watch, within: .seconds(10))
            try await client.put(bytes("log/1"), bytes("x"))
            try await client.put(bytes("log/2"), bytes("y"))
            let deleted = try await client.transaction(compare: [], success: [.delete(.prefix(bytes("log/")))])
            let seen = try await events
            #expect(seen.map(\.kind) == [.put, .put, .delete, .delete])
            #expect(seen.map(\.value) == [bytes("x"), bytes("y"), [], []])
            // Both deletes of one request share its revision.
            #expect(seen.suffix(2).map(\.modRevision) == [deleted.revision, deleted.revision])
        }
    }

    @Test func watchingFromACompactedRevisionFails() async throws {
        try await withEachStore { client in
            let old = try await client.put(bytes("log/1"), bytes("a"))
            try await client.put(bytes("log/2"), bytes("b"))
            let kept = try await client.put(bytes("log/3"), bytes("c"))
            try await client.compact(revision: kept)

            let error = await #expect(throws: EtcdError.self) {
                _ = try await collect(1, from: client.watch(prefix: bytes("log/"), fromRevision: old), within: .seconds(10))
            }
            #expect(error?.code == .compacted)
            #expect(error?.message.contains("\(kept)") == true, "\(String(describing: error))")

            // From the compaction revision on, the history is still there.
            let events = try await collect(1, from: client.watch(prefix: bytes("log/"), fromRevision: kept), within: .seconds(10))
            #expect(events.first?.value == bytes("c"))
        }
    }

    @Test func cancellingTheConsumerEndsTheWatch() async throws {
        try await withEachStore { client in
            let consumer = Task {
                var batches = 0
                for try await _ in client.watch(prefix: bytes("log/")) { batches += 1 }
                return batches
            }
            try await Task.sleep(for: .milliseconds(300))
            consumer.cancel()
            // The loop ends (with CancellationError or quietly) instead of waiting for events forever.
            let ended = try await within(.seconds(5)) { _ = try? await consumer.value; return true }
            #expect(ended != nil, "the watch went on after its consumer was cancelled")
            // The client still works afterwards.
            try await client.put(bytes("log/after"), bytes("z"))
        }
    }
}
