import EtcdClient
import Testing
import TestSupport

@Suite struct FailoverTests {
    /// The member the clients are connected to is SIGKILLed: puts go on through the other two (a
    /// majority), a watch resumes on another member without losing or repeating events, and the
    /// killed member rejoins when restarted. The writer and the watcher are separate clients, so that
    /// each finds out on its own that the member died.
    @Test func threeMemberClusterKeepsServingWhenTheConnectedMemberDies() async throws {
        try await withEtcd(members: 3, callTimeout: .seconds(3)) { cluster, writer in
            for index in 0..<5 { try await writer.put(bytes("log/\(index)"), bytes("before \(index)")) }
            let connected = try await writer.currentEndpoint()
            let victim = try #require(cluster.endpoints.firstIndex(of: connected.description))

            let watcher = try EtcdClient(endpoints: cluster.endpoints, tls: cluster.clientTLS)
            #expect(try await watcher.currentEndpoint() == connected)
            let start = try #require(try await writer.get(bytes("log/0"))?.modRevision)
            async let watched = collect(
                from: watcher.watch(prefix: bytes("log/"), fromRevision: start),
                within: .seconds(30),
                until: "the put of log/9"
            ) { $0.last?.key == bytes("log/9") }
            // Let the watch get going on the member about to die.
            try await Task.sleep(for: .milliseconds(300))

            cluster.kill(member: victim)
            #expect(!cluster.members[victim].isRunning)

            // If the victim led the cluster, the other two elect a leader first (about a second). A put
            // caught in that gap may time out; the next one must get through on a surviving member.
            var written = 5
            var timeouts = 0
            let deadline = ContinuousClock.now + .seconds(20)
            while written < 10, ContinuousClock.now < deadline {
                do {
                    try await writer.put(bytes("log/\(written)"), bytes("after \(written)"))
                    written += 1
                } catch let error as EtcdError where error.code == .timeout {
                    timeouts += 1
                }
            }
            #expect(written == 10, "only \(written - 5) of 5 puts got through after the member died")
            #expect(timeouts <= 3, "\(timeouts) puts timed out")
            #expect(try await writer.currentEndpoint() != connected)
            #expect(try await writer.range(prefix: bytes("log/")).count == 10)

            let events = try await watched
            await watcher.close()
            // A put that timed out may have been applied after all, and then again by its retry: keys can
            // repeat, but never an event (the resumed watch starts after the last revision delivered).
            let revisions = events.map(\.modRevision)
            #expect(revisions == Array(Set(revisions)).sorted(), "events repeated or out of order: \(revisions)")
            var firstSeen: [[UInt8]] = []
            for event in events where !firstSeen.contains(event.key) { firstSeen.append(event.key) }
            #expect(firstSeen == (0..<10).map { bytes("log/\($0)") })
            #expect(events.allSatisfy { $0.kind == .put })

            try await cluster.restart(member: victim)
            #expect(cluster.members[victim].isRunning)
            let alone = try EtcdClient(endpoints: [cluster.endpoints[victim]], tls: cluster.clientTLS)
            let caughtUp = try await eventually(within: .seconds(10)) {
                (try? await alone.range(prefix: bytes("log/")).count) == 10
            }
            await alone.close()
            #expect(caughtUp, "the restarted member did not catch up")
        }
    }

    @Test func noReachableMemberIsUnavailableQuickly() async throws {
        let ports = [try ChildProcess.freePort(), try ChildProcess.freePort()]
        let client = try EtcdClient(endpoints: ports.map { "127.0.0.1:\($0)" }, tls: try unusedTLS(), callTimeout: .seconds(2))
        let started = ContinuousClock.now
        let error = await #expect(throws: EtcdError.self) { try await client.get(bytes("k")) }
        // Refused connections give UNAVAILABLE; on a loaded machine a connect can hit the call timeout first.
        #expect(error?.code == .unavailable || error?.code == .timeout)
        #expect(ContinuousClock.now - started < .seconds(10))
        await client.close()
    }
}
