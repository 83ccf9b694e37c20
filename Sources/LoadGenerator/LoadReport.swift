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
    /// p99 submit→commit latency (ms) of the transactions committed in each whole second.
    package var p99Timeline: [Double] = []
    /// CPU use of the node processes on this machine and of the bench client.
    package var processCPU: [ProcessCPU] = []

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
        if !processCPU.isEmpty {
            lines.append("  CPU (100% = one core): " + processCPU.map { "\($0.name) \(format($0.percent))%" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    /// An SVG chart of committed TPS (bars) and p99 submit→commit latency (line) per second.
    package var svg: String {
        let width = 800.0, height = 360.0, left = 60.0, right = 60.0, top = 30.0, bottom = 40.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let seconds = max(committedTimeline.count, 1)
        let maxTPS = Double(max(committedTimeline.max() ?? 1, 1)) * 1.1
        let maxLatency = max(p99Timeline.max() ?? 1, 1) * 1.1
        func x(_ second: Int) -> Double { left + plotWidth * Double(second) / Double(seconds) }
        func f(_ value: Double) -> String { String(format: "%.1f", value) }
        let barWidth = plotWidth / Double(seconds)
        var parts = [
            #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Int(width))" height="\#(Int(height))" font-family="sans-serif" font-size="12">"#,
            #"<rect width="100%" height="100%" fill="white"/>"#,
            #"<text x="\#(f(left))" y="18">medrex bench: \#(workload), \#(clients) clients, \#(api) API — committed TPS (bars), p99 submit→commit ms (line)</text>"#,
        ]
        for (second, count) in committedTimeline.enumerated() {
            let barHeight = plotHeight * Double(count) / maxTPS
            parts.append(#"<rect x="\#(f(x(second)))" y="\#(f(top + plotHeight - barHeight))" width="\#(f(max(barWidth - 1, 1)))" height="\#(f(barHeight))" fill="steelblue"/>"#)
        }
        let points = p99Timeline.enumerated().map { second, latency in
            "\(f(x(second) + barWidth / 2)),\(f(top + plotHeight - plotHeight * latency / maxLatency))"
        }
        if !points.isEmpty {
            parts.append(#"<polyline fill="none" stroke="crimson" stroke-width="2" points="\#(points.joined(separator: " "))"/>"#)
        }
        parts += [
            #"<line x1="\#(f(left))" y1="\#(f(top + plotHeight))" x2="\#(f(left + plotWidth))" y2="\#(f(top + plotHeight))" stroke="black"/>"#,
            #"<line x1="\#(f(left))" y1="\#(f(top))" x2="\#(f(left))" y2="\#(f(top + plotHeight))" stroke="black"/>"#,
            #"<line x1="\#(f(left + plotWidth))" y1="\#(f(top))" x2="\#(f(left + plotWidth))" y2="\#(f(top + plotHeight))" stroke="black"/>"#,
            #"<text x="\#(f(left - 5))" y="\#(f(top + 4))" text-anchor="end">\#(Int(maxTPS))</text>"#,
            #"<text x="\#(f(left - 5))" y="\#(f(top + plotHeight))" text-anchor="end">0</text>"#,
            #"<text x="\#(f(left + plotWidth + 5))" y="\#(f(top + 4))">\#(Int(maxLatency)) ms</text>"#,
            #"<text x="\#(f(left + plotWidth + 5))" y="\#(f(top + plotHeight))">0 ms</text>"#,
            #"<text x="\#(f(left + plotWidth / 2))" y="\#(f(height - 10))" text-anchor="middle">seconds (\#(seconds))</text>"#,
            "</svg>",
        ]
        return parts.joined(separator: "\n") + "\n"
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
        /// Submit→commit latencies of the transactions committed in each second.
        var latencyBySecond: [Histogram<UInt64>] = []
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
            while state.latencyBySecond.count <= second {
                state.latencyBySecond.append(Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .two))
            }
            _ = state.latencyBySecond[second].record(Self.microseconds(committed - began))
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
                committedTimeline: state.timeline,
                p99Timeline: state.latencyBySecond.map { $0.totalCount == 0 ? 0 : (Double($0.valueAtPercentile(99)) / 100).rounded() / 10 })
        }
    }

    private static func microseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(0, duration / .microseconds(1)))
    }
}
