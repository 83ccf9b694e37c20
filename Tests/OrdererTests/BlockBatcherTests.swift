import Foundation
import LedgerCore
import LedgerWire
import Testing
import TestSupport

@testable import Orderer

/// The ordering front half shared by the solo and etcd chains, without a chain: what it cuts,
/// which timers it asks for, and which receipts it hands back.
@Suite struct BlockBatcherTests {
    @Test func cutsByCountAndAsksForOneTimerPerBatch() async throws {
        let fixture = try SoloFixture(maxMessageCount: 3, timeout: .milliseconds(100))
        defer { fixture.cleanUp() }
        let clock = ManualClock(start: TestPKI.now)
        var batcher = BlockBatcher(settings: await fixture.chain.settings)
        var checks: [BlockBatcher.Check] = []
        var batches: [BlockBatcher.Batch] = []
        var receipts: [BroadcastReceipt] = []
        for index in 0..<7 {
            let accepted = batcher.accept(try fixture.envelope(index), clock: clock)
            receipts.append(accepted.receipt)
            checks += accepted.checks
            batches += accepted.batches
        }
        #expect(batches.map(\.envelopes.count) == [3, 3])
        #expect(batches.flatMap(\.receipts).map(ObjectIdentifier.init) == receipts.prefix(6).map(ObjectIdentifier.init))
        // A timer for each batch started: those of the cut batches no longer cut anything.
        #expect(checks.count == 3)
        #expect(batcher.fire(checks[0], clock: clock).batch == nil)
        #expect(batcher.fire(checks[1], clock: clock).batch == nil)
        let timedOut = try #require(batcher.fire(checks[2], clock: clock).batch)
        #expect(timedOut.envelopes.count == 1 && timedOut.receipts.map(ObjectIdentifier.init) == [ObjectIdentifier(receipts[6])])
        #expect(!batcher.hasPending)
    }

    @Test func refusalsAreAnsweredAtOnceAndChangeNothing() async throws {
        let fixture = try SoloFixture(maxMessageCount: 3)
        defer { fixture.cleanUp() }
        let clock = ManualClock(start: TestPKI.now)
        var batcher = BlockBatcher(settings: await fixture.chain.settings)
        var unsigned = try fixture.envelope(0)
        unsigned.signature = Data()
        let refused = batcher.accept(unsigned, clock: clock)
        #expect(refused.receipt.resolvedOutcome?.status == .forbidden)
        #expect(refused.batches.isEmpty && refused.checks.isEmpty && !batcher.hasPending)
        let oversized = batcher.accept(try fixture.envelope(1, valueBytes: 70 * 1024), clock: clock)
        #expect(oversized.receipt.resolvedOutcome?.status == .requestEntityTooLarge)
        #expect(!batcher.hasPending)
    }

    @Test func anIdleCheckMovesWhileEnvelopesArriveAndAbandonReturnsTheWaiting() async throws {
        let fixture = try SoloFixture(maxMessageCount: 10, timeout: .seconds(5), idleTimeout: .milliseconds(20))
        defer { fixture.cleanUp() }
        let clock = ManualClock(start: TestPKI.now)
        var batcher = BlockBatcher(settings: await fixture.chain.settings)
        let first = batcher.accept(try fixture.envelope(0), clock: clock)
        let idle = try #require(first.checks.first { $0.kind == .idle })
        #expect(idle.delay == .milliseconds(20))
        await clock.advance(by: .milliseconds(15))
        _ = batcher.accept(try fixture.envelope(1), clock: clock)
        await clock.advance(by: .milliseconds(5))
        // 20 ms after the first envelope, but only 5 ms after the last: checked again 15 ms on.
        let early = batcher.fire(idle, clock: clock)
        #expect(early.batch == nil)
        let moved = try #require(early.checks.first)
        #expect(moved.kind == .idle && moved.delay == .milliseconds(15))
        await clock.advance(by: .milliseconds(15))
        let cut = try #require(batcher.fire(moved, clock: clock).batch)
        #expect(cut.envelopes.count == 2)
        var other = BlockBatcher(settings: await fixture.chain.settings)
        let accepted = other.accept(try fixture.envelope(2), clock: clock)
        let waiting = other.abandon()
        #expect(waiting.map(ObjectIdentifier.init) == [ObjectIdentifier(accepted.receipt)])
        #expect(!other.hasPending)
    }
}
