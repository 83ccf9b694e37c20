import Foundation
import LedgerCore
import LedgerWire
import Testing
import WorldState
@testable import Committer
@testable import GatewayService
@testable import NodeClients
@testable import PeerDaemon
@testable import PhiService


@Suite struct ReadConflictPrecheckTests {
    let state = InMemoryStateDatabase()

    init() throws {
        var seed = StateUpdateBatch()
        seed.put(namespace: "cc", key: "a", value: [1], version: StateVersion(blockNumber: 3, transactionNumber: 0))
        seed.put(namespace: "cc", key: "b", value: [2], version: StateVersion(blockNumber: 3, transactionNumber: 1))
        try state.apply(seed, blockNumber: 0)
    }

    /// A transaction reading `reads` at the given versions (nil: read as absent) and writing `writes`.
    static func transaction(reads: [(String, (UInt64, UInt64)?)], writes: [String]) throws -> EndorserTransaction {
        var builder = EndorserTransactionBuilder(channelID: "ch", chaincodeName: "cc", creator: Data("c".utf8), nonce: Data([1]), timestamp: Date())
        var set = Kvrwset_KVRWSet()
        set.reads = reads.map { key, version in
            var read = Kvrwset_KVRead()
            read.key = key
            if let version {
                read.version.blockNum = version.0
                read.version.txNum = version.1
            }
            return read
        }
        set.writes = writes.map { key in
            var write = Kvrwset_KVWrite()
            write.key = key
            write.value = Data([9])
            return write
        }
        builder.readWriteSets = [("cc", set)]
        let envelope = try builder.envelope()
        return try EndorserTransaction(payloadData: try TransactionEnvelope(envelope: envelope).payload.data)
    }

    @Test func currentReadsProceedAndStaleOnesAbort() throws {
        let precheck = ReadConflictPrecheck()
        let reader = try state.makeReader()
        let current = try Self.transaction(reads: [("a", (3, 0)), ("b", (3, 1)), ("new", nil)], writes: ["a"])
        #expect(try precheck.check(current, transactionID: "t1", reader: reader) == .proceed)
        let staleVersion = try Self.transaction(reads: [("a", (2, 5))], writes: ["a"])
        #expect(try precheck.check(staleVersion, transactionID: "t2", reader: reader) == .stale)
        let readAsAbsent = try Self.transaction(reads: [("b", nil)], writes: ["x"])
        #expect(try precheck.check(readAsAbsent, transactionID: "t3", reader: reader) == .stale)
        #expect(precheck.pendingCount == 1)
    }

    @Test func readsOfPendingWritesWaitForTheWriters() throws {
        let precheck = ReadConflictPrecheck()
        let reader = try state.makeReader()
        #expect(try precheck.check(try Self.transaction(reads: [("a", (3, 0))], writes: ["a"]), transactionID: "t1", reader: reader) == .proceed)
        #expect(try precheck.check(try Self.transaction(reads: [], writes: ["b"]), transactionID: "t2", reader: reader) == .proceed)
        let both = try Self.transaction(reads: [("a", (3, 0)), ("b", (3, 1))], writes: ["c"])
        #expect(try precheck.check(both, transactionID: "t3", reader: reader) == .wait(for: ["t1", "t2"]))
        // Blind writes of a pending key do not wait: they read nothing.
        #expect(try precheck.check(try Self.transaction(reads: [], writes: ["a"]), transactionID: "t4", reader: reader) == .proceed)
        precheck.finished("t4")
        precheck.finished("t1")
        #expect(try precheck.check(both, transactionID: "t3", reader: reader) == .wait(for: ["t2"]))
        precheck.finished("t2")
        #expect(try precheck.check(both, transactionID: "t3", reader: reader) == .proceed)
        // Forced after the last round: registered although it reads pending writes.
        #expect(try precheck.check(try Self.transaction(reads: [("c", nil)], writes: ["d"]), transactionID: "t5", reader: reader, force: true) == .proceed)
        #expect(precheck.pendingCount == 2)
        for id in ["t3", "t5"] { precheck.finished(id) }
        #expect(precheck.pendingCount == 0)
    }
}

extension ReadConflictPrecheckTests {
    /// On the manual clock: a reservation ends exactly at its lifetime, and the timer that
    /// removes it wakes its waiters.
    @Test func reservationsAtEndorsementExpireUnlessSubmitted() async throws {
        let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
        let precheck = ReadConflictPrecheck(clock: clock)
        let reader = try state.makeReader()
        let writesA = try Self.transaction(reads: [("a", (3, 0))], writes: ["a"])
        let readsA = try Self.transaction(reads: [("a", (3, 0))], writes: ["c"])
        // Reserved, never submitted: readers of "a" wait for it until the reservation ends.
        precheck.reserve(writesA, transactionID: "t1", lifetime: .seconds(1))
        #expect(precheck.pendingWriters(readBy: readsA, transactionID: "t9") == ["t1"])
        let waiter = Task { await precheck.waitUntilFinished("t1") }
        await clock.advance(by: .milliseconds(999))
        #expect(precheck.pendingWriters(readBy: readsA, transactionID: "t9") == ["t1"])
        await clock.advance(by: .milliseconds(1))
        #expect(precheck.pendingWriters(readBy: readsA, transactionID: "t9").isEmpty)
        #expect(precheck.pendingCount == 0)
        await waiter.value
        #expect(try precheck.check(readsA, transactionID: "t8", reader: reader) == .proceed)
        precheck.finished("t8")
        // Reserved, then submitted: it stays pending past the lifetime, until it finishes.
        precheck.reserve(writesA, transactionID: "t2", lifetime: .milliseconds(100))
        #expect(try precheck.check(writesA, transactionID: "t2", reader: reader) == .proceed)
        await clock.advance(by: .seconds(10))
        #expect(precheck.pendingWriters(readBy: readsA, transactionID: "t9") == ["t2"])
        precheck.finished("t2")
        #expect(precheck.pendingCount == 0)
    }

    @Test func pendingWritersOfWhatATransactionReads() throws {
        let precheck = ReadConflictPrecheck()
        let reader = try state.makeReader()
        #expect(try precheck.check(try Self.transaction(reads: [], writes: ["a"]), transactionID: "t1", reader: reader) == .proceed)
        #expect(try precheck.check(try Self.transaction(reads: [], writes: ["a", "b"]), transactionID: "t2", reader: reader) == .proceed)
        let readsA = try Self.transaction(reads: [("a", (3, 0))], writes: ["c"])
        #expect(precheck.pendingWriters(readBy: readsA, transactionID: "t3") == ["t1", "t2"])
        #expect(precheck.pendingWriters(readBy: readsA, transactionID: "t1") == ["t2"])
        #expect(precheck.pendingWriters(readBy: try Self.transaction(reads: [], writes: ["a"]), transactionID: "t3").isEmpty)
        // Asking registers nothing.
        #expect(precheck.pendingCount == 2)
        precheck.finished("t1")
        #expect(precheck.pendingWriters(readBy: readsA, transactionID: "t3") == ["t2"])
    }

    @Test func waitersWakeWhenThePendingTransactionFinishes() async throws {
        let precheck = ReadConflictPrecheck()
        let reader = try state.makeReader()
        #expect(try precheck.check(try Self.transaction(reads: [], writes: ["a"]), transactionID: "t1", reader: reader) == .proceed)
        await precheck.waitUntilFinished("unknown")
        let waiting = Task { await precheck.waitUntilFinished("t1") }
        try await Task.sleep(for: .milliseconds(20))
        precheck.finished("t1")
        await waiting.value
        #expect(precheck.pendingCount == 0)
    }
}
