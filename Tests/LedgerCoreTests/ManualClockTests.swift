import Foundation
import LedgerCore
import Synchronization
import Testing

/// The injected clock of tests and the simulation: time moves only when advanced, timers run in
/// the order they fall due, and the wall time follows.
@Suite struct ManualClockTests {
    final class Log: Sendable {
        let entries = Mutex<[String]>([])
        func add(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }

    @Test func timersRunInDueOrderOnlyWhenTimeReachesThem() async {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let clock = ManualClock(start: start)
        let log = Log()
        clock.schedule(after: .milliseconds(30)) { log.add("c@30") }
        clock.schedule(after: .milliseconds(10)) { log.add("a@10") }
        clock.schedule(after: .milliseconds(10)) {
            log.add("b@10")
            // Scheduled by a timer that runs: run in the same advance when it falls due.
            clock.schedule(after: .milliseconds(5)) { log.add("d@15") }
        }
        #expect(clock.nextDue == .milliseconds(10))
        await clock.advance(by: .milliseconds(9))
        #expect(log.all.isEmpty)
        await clock.advance(by: .milliseconds(11))
        #expect(log.all == ["a@10", "b@10", "d@15"])
        #expect(clock.elapsed == .milliseconds(20))
        #expect(clock.now == start.addingTimeInterval(0.02))
        await clock.advance(by: .seconds(1))
        #expect(log.all == ["a@10", "b@10", "d@15", "c@30"])
        #expect(clock.nextDue == nil)
    }

    @Test func sleepersWakeWhenTheirTimeComesAndCancellationEndsASleep() async throws {
        let clock = ManualClock(start: Date(timeIntervalSince1970: 0))
        let sleeper = Task { try await clock.sleep(for: .seconds(5)) }
        let cancelled = Task { try await clock.sleep(for: .seconds(5)) }
        while clock.pendingCount < 2 { await Task.yield() }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        await clock.advance(by: .seconds(5))
        try await sleeper.value
        #expect(clock.nextDue == nil)
    }
}
