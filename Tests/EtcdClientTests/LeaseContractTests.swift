import EtcdClient
import Foundation
import LedgerCore
import Testing

/// What the ordering chain relies on from leases, held against the real etcd and the in-memory one;
/// expiry itself is timed by the clock, so it is tested on the in-memory store with a manual clock
/// (the real one's expiry is `LeaseTests`).
@Suite struct LeaseContractTests {
    @Test func leaseComparisonsGuardWritesAndRevokingDeletesTheLeasesKeys() async throws {
        try await withEachStore { store in
            let lease = try await store.grantLease(ttlSeconds: 30)
            let other = try await store.grantLease(ttlSeconds: 30)
            #expect(try await store.createIfAbsent(bytes("leader"), bytes("orderer0"), lease: lease.id))
            #expect(try await !store.createIfAbsent(bytes("leader"), bytes("orderer1"), lease: other.id))
            #expect(try await store.get(bytes("leader"))?.lease == lease.id)

            // Append only while holding the leader key: the holder's lease passes, another fails.
            let byHolder = try await store.transaction(
                compare: [.absent(bytes("block/1")), Comparison(key: bytes("leader"), .equal, .lease(lease.id))],
                success: [.put(key: bytes("block/1"), value: bytes("one"), lease: nil)])
            #expect(byHolder.succeeded)
            let byOther = try await store.transaction(
                compare: [.absent(bytes("block/2")), Comparison(key: bytes("leader"), .equal, .lease(other.id))],
                success: [.put(key: bytes("block/2"), value: bytes("two"), lease: nil)])
            #expect(!byOther.succeeded)
            #expect(try await store.get(bytes("block/2")) == nil)

            try await store.revokeLease(lease.id)
            #expect(try await store.get(bytes("leader")) == nil)
            #expect(try await store.get(bytes("block/1"))?.value == bytes("one"))
            // An absent key has no lease: a comparison with the revoked lease fails now.
            let afterRevoke = try await store.transaction(
                compare: [Comparison(key: bytes("leader"), .equal, .lease(lease.id))], success: [.put(key: bytes("block/2"), value: bytes("two"), lease: nil)])
            #expect(!afterRevoke.succeeded)
            let again = await #expect(throws: EtcdError.self) { try await store.revokeLease(lease.id) }
            #expect(again?.code == .leaseNotFound)
            let unknown = await #expect(throws: EtcdError.self) { try await store.put(bytes("x"), bytes("y"), lease: lease.id) }
            #expect(unknown?.code == .leaseNotFound)
            try await store.revokeLease(other.id)
        }
    }

    @Test func inMemoryLeasesExpireWhenTheClockPassesTheirTTL() async throws {
        let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
        let store = InMemoryEtcd(clock: clock)
        let lease = try await store.grantLease(ttlSeconds: 3)
        #expect(try await store.createIfAbsent(bytes("leader"), bytes("orderer0"), lease: lease.id))
        let watch = store.watch(.key(bytes("leader")), fromRevision: nil)

        // Renewed by a keep-alive on the same clock: alive after many TTLs.
        let keepAlive = Task { try await store.keepAlive(lease) }
        for _ in 0..<30 {
            await clock.advance(by: .milliseconds(500))
            await Task.yield()
        }
        #expect(try await store.get(bytes("leader"))?.value == bytes("orderer0"))
        keepAlive.cancel()
        try await keepAlive.value

        // Not renewed: gone once the clock passes the TTL, and not a moment before.
        try await store.renew(lease.id)
        await clock.advance(by: .milliseconds(2_900))
        #expect(try await store.get(bytes("leader")) != nil)
        await clock.advance(by: .milliseconds(100))
        #expect(try await store.get(bytes("leader")) == nil)
        let renewal = await #expect(throws: EtcdError.self) { try await store.renew(lease.id) }
        #expect(renewal?.code == .leaseExpired)
        let lost = await #expect(throws: EtcdError.self) { try await store.keepAlive(lease) }
        #expect(lost?.code == .leaseExpired)

        // The expiry is a delete that a watch sees.
        let events = try await collect(1, from: watch, within: .seconds(5))
        #expect(events.map(\.kind) == [.delete])
    }

    @Test func inMemoryRefusesWhatEtcdRefuses() async throws {
        let store = InMemoryEtcd(clock: SystemClock())
        for bad in [Int64(0), -1, Lease.ttlSecondsMax + 1] {
            let error = await #expect(throws: EtcdError.self) { try await store.grantLease(ttlSeconds: bad) }
            #expect(error?.code == .invalidArgument)
        }
        let revision = try await store.put(bytes("k"), bytes("v"))
        let future = await #expect(throws: EtcdError.self) { try await store.range(.key(bytes("k")), limit: 0, revision: revision + 1) }
        #expect(future?.code == .rejected)
        let negative = await #expect(throws: EtcdError.self) { try await store.range(.key(bytes("k")), limit: -1, revision: 0) }
        #expect(negative?.code == .invalidArgument)
        let twice = await #expect(throws: EtcdError.self) {
            try await store.transaction(compare: [], success: [.put(key: bytes("a"), value: [], lease: nil), .put(key: bytes("a"), value: [1], lease: nil)])
        }
        #expect(twice?.code == .rejected)
        #expect(try await store.get(bytes("a")) == nil)
        let empty = await #expect(throws: EtcdError.self) { try await store.put([], bytes("v")) }
        #expect(empty?.code == .invalidArgument)
    }
}
