import Foundation
import Histogram
import LedgerCore
import LedgerWire
import Synchronization

/// Latency percentiles in milliseconds.
package struct LatencySummary: Codable, Sendable, Hashable {
    package var count: UInt64
    package var p50: Double
    package var p90: Double
    package var p99: Double
    package var max: Double

    init(_ histogram: Histogram<UInt64>) {
        count = histogram.totalCount
        func milliseconds(_ microseconds: UInt64) -> Double { (Double(microseconds) / 1000 * 10).rounded() / 10 }
        p50 = milliseconds(histogram.valueAtPercentile(50))
        p90 = milliseconds(histogram.valueAtPercentile(90))
        p99 = milliseconds(histogram.valueAtPercentile(99))
        max = milliseconds(histogram.max)
    }
}

/// The result of a `medrex bench` run. `committed = valid + invalid`; `failed` transactions never
/// reached a block (refused at endorsement or ordering, or lost with a stream).
package struct LoadReport: Codable, Sendable {
    package var workload: String
    package var api: String
    package var clients: Int
    package var seconds: Double
    package var submitted: Int
    package var committed: Int
    package var valid: Int
    package var invalid: Int
    package var abortedBeforeOrdering: Int
    package var failed: Int
    package var invalidByCode: [String: Int]
    package var failures: [String: Int]
    package var committedPerSecond: Double
    package var validPerSecond: Double
    /// valid / submitted.
    package var goodput: Double
    package var mvccConflictRate: Double
    package var endorseLatency: LatencySummary
    package var orderAndCommitLatency: LatencySummary
    package var totalLatency: LatencySummary
    /// Keys most often involved in MVCC conflicts, with their conflict counts.
    package var contendedKeys: [ContendedKey]
    package var recommendation: String?
    /// Transactions committed in each whole second of the run.
    package var committedTimeline: [Int]

    package struct ContendedKey: Codable, Sendable, Hashable {
        package var key: String
        package var conflicts: Int
    }

    /// The human-readable summary.
    package var text: String {
        func format(_ value: Double) -> String { String(format: "%.1f", value) }
        func line(_ name: String, _ latency: LatencySummary) -> String {
            "  \(name) p50 \(format(latency.p50)) ms  p90 \(format(latency.p90)) ms  p99 \(format(latency.p99)) ms  max \(format(latency.max)) ms"
        }
        var lines = [
            "workload \(workload), \(clients) clients, \(api) API, \(format(seconds)) s",
            "  submitted \(submitted)  committed \(committed) (valid \(valid), invalid \(invalid))  aborted before ordering \(abortedBeforeOrdering)  failed before commit \(failed)",
            "  committed TPS \(format(committedPerSecond))  valid TPS \(format(validPerSecond))  goodput \(String(format: "%.3f", goodput))  MVCC conflict rate \(String(format: "%.3f", mvccConflictRate))",
            line("endorse         ", endorseLatency),
            line("order+commit    ", orderAndCommitLatency),
            line("submit→commit   ", totalLatency),
        ]
        if !invalidByCode.isEmpty {
            lines.append("  invalid: " + invalidByCode.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !failures.isEmpty {
            lines.append("  failures: " + failures.sorted { $0.value > $1.value }.prefix(5).map { "\($0.value)× \($0.key)" }.joined(separator: "; "))
        }
        if !contendedKeys.isEmpty {
            lines.append("  most contended keys: " + contendedKeys.map { "\($0.key) (\($0.conflicts))" }.joined(separator: ", "))
        }
        if let recommendation { lines.append("  recommendation: \(recommendation)") }
        return lines.joined(separator: "\n")
    }
}

/// Collects outcomes from every client while a run goes on.
final class LoadRecorder: Sendable {
    private struct State {
        var submitted = 0
        var valid = 0
        var abortedBeforeOrdering = 0
        var invalidByCode: [String: Int] = [:]
        var failures: [String: Int] = [:]
        var conflictsByKey: [String: Int] = [:]
        var endorse = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        var orderAndCommit = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        var total = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        var timeline: [Int] = []
        var lastSecond = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    }

    private let state = Mutex(State())
    let start: ContinuousClock.Instant

    init(start: ContinuousClock.Instant) { self.start = start }

    func submitted() { state.withLock { $0.submitted += 1 } }

    func committed(
        code: Protos_TxValidationCode, keys: [String], began: ContinuousClock.Instant, endorsed: ContinuousClock.Instant, committed: ContinuousClock.Instant
    ) {
        let second = Int((committed - start) / .seconds(1))
        state.withLock { state in
            if code == .valid {
                state.valid += 1
            } else {
                state.invalidByCode[code.name, default: 0] += 1
                if code == .mvccReadConflict || code == .phantomReadConflict {
                    for key in keys { state.conflictsByKey[key, default: 0] += 1 }
                }
            }
            _ = state.endorse.record(Self.microseconds(endorsed - began))
            _ = state.orderAndCommit.record(Self.microseconds(committed - endorsed))
            _ = state.total.record(Self.microseconds(committed - began))
            _ = state.lastSecond.record(Self.microseconds(committed - began))
            while state.timeline.count <= second { state.timeline.append(0) }
            state.timeline[second] += 1
        }
    }

    func failed(_ reason: String) { state.withLock { $0.failures[reason, default: 0] += 1 } }

    /// The gateway refused the transaction before ordering: its reads were stale (early abort).
    func abortedBeforeOrdering(keys: [String]) {
        state.withLock { state in
            state.abortedBeforeOrdering += 1
            for key in keys { state.conflictsByKey[key, default: 0] += 1 }
        }
    }

    /// One progress line: committed in the last whole second, p99 since the previous line.
    func progress(elapsed: Duration) -> String {
        state.withLock { state in
            let second = Int(elapsed / .seconds(1)) - 1
            let recent = second >= 0 && second < state.timeline.count ? state.timeline[second] : 0
            let p99 = Double(state.lastSecond.valueAtPercentile(99)) / 1000
            state.lastSecond.reset()
            let conflicts = state.invalidByCode["MVCC_READ_CONFLICT", default: 0]
            return String(format: "%5.0f s  committed/s %6d  p99 %7.1f ms  valid %8d  conflicts %7d  aborted %7d  failed %d",
                          Double(elapsed / .milliseconds(1)) / 1000, recent, p99, state.valid, conflicts, state.abortedBeforeOrdering,
                          state.failures.values.reduce(0, +))
        }
    }

    func report(workload: Workload, api: String, clients: Int, elapsed: Duration) -> LoadReport {
        state.withLock { state in
            let invalid = state.invalidByCode.values.reduce(0, +)
            let committed = state.valid + invalid
            let seconds = Double(elapsed / .milliseconds(1)) / 1000
            let conflicts = state.invalidByCode["MVCC_READ_CONFLICT", default: 0] + state.invalidByCode["PHANTOM_READ_CONFLICT", default: 0]
            let contended = state.conflictsByKey.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(5)
                .map { LoadReport.ContendedKey(key: $0.key, conflicts: $0.value) }
            var recommendation: String?
            if committed > 0, Double(conflicts) / Double(committed) > 0.05, let hottest = contended.first {
                recommendation = "\(String(format: "%.0f", 100 * Double(conflicts) / Double(committed)))% of transactions lost an MVCC race; "
                    + "the hottest key is \(hottest.key). Split hot keys (e.g. per-client sub-accounts), or write deltas as append-only "
                    + "composite keys (KEY~txid) that a reader sums, so concurrent updates do not read-modify-write one key."
            }
            return LoadReport(
                workload: workload.description, api: api, clients: clients, seconds: seconds,
                submitted: state.submitted, committed: committed, valid: state.valid, invalid: invalid,
                abortedBeforeOrdering: state.abortedBeforeOrdering, failed: state.failures.values.reduce(0, +), invalidByCode: state.invalidByCode, failures: state.failures,
                committedPerSecond: seconds > 0 ? Double(committed) / seconds : 0,
                validPerSecond: seconds > 0 ? Double(state.valid) / seconds : 0,
                goodput: state.submitted > 0 ? Double(state.valid) / Double(state.submitted) : 0,
                mvccConflictRate: committed > 0 ? Double(conflicts) / Double(committed) : 0,
                endorseLatency: LatencySummary(state.endorse), orderAndCommitLatency: LatencySummary(state.orderAndCommit),
                totalLatency: LatencySummary(state.total), contendedKeys: Array(contended), recommendation: recommendation,
                committedTimeline: state.timeline)
        }
    }

    private static func microseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(0, duration / .microseconds(1)))
    }
}
