import Foundation

/// What a run did: requests and outcomes per method, liveness checks, and the failure if a node
/// failed.
package struct NetworkFuzzReport: Sendable {
    package struct Failure: Sendable {
        package let node: String
        package let reason: String
        /// The requests since the last passed liveness check, in the order they were sent.
        package let recording: URL
        /// The last request sent to the failed node before its failure was seen.
        package let lastRequest: String?
        /// The end of the node's log, when the fuzzer knows its log file.
        package let logTail: String?
    }

    package let seed: UInt64
    /// Requests per method (`package.Service/Method`).
    package var requestsByMethod: [String: Int] = [:]
    /// Outcomes (`ok`, a status code, ...) per method.
    package var outcomesByMethod: [String: [String: Int]] = [:]
    /// The first status message (or client error) per method and outcome, for the outcomes
    /// that say something failed rather than that the request was refused (`internalError`,
    /// `unavailable`, `unknown`, ...), keyed `method: outcome`.
    package var explanations: [String: String] = [:]
    package var messagesSent = 0
    /// Requests that a node refused with a status (not a timeout, not a cancellation).
    package var refusals = 0
    package var batches = 0
    /// One per node per check.
    package var livenessChecksPassed = 0
    package var failure: Failure?
    package var elapsed: Duration = .zero

    static let explanationCharactersMax = 200

    package init(seed: UInt64) { self.seed = seed }

    package var requests: Int { requestsByMethod.values.reduce(0, +) }

    /// Outcomes over all methods.
    package var outcomes: [String: Int] {
        outcomesByMethod.values.reduce(into: [:]) { total, counts in total.merge(counts, uniquingKeysWith: +) }
    }

    mutating func count(_ request: FuzzRequest, _ reply: RequestSender.Reply) {
        let outcome = reply.outcome
        requestsByMethod[request.method.name, default: 0] += 1
        if outcome.isWorthExplaining, let detail = reply.detail {
            let key = "\(request.method.name): \(outcome)"
            if explanations[key] == nil { explanations[key] = String(detail.prefix(Self.explanationCharactersMax)) }
        }
        outcomesByMethod[request.method.name, default: [:]][outcome.description, default: 0] += 1
        messagesSent += request.messages.count
        if outcome.isRefusal { refusals += 1 }
    }

    /// The report as text: a line per method with its outcomes, the totals, and the failure.
    package var summary: String {
        var lines = ["network fuzzer: seed \(seed), \(requests) requests (\(messagesSent) messages) in \(batches) batches, "
            + "\(String(format: "%.1f", elapsed.secondsValue)) s"]
        lines.append("requests per method:")
        let width = requestsByMethod.keys.map(\.count).max() ?? 0
        for method in requestsByMethod.keys.sorted() {
            let outcomes = (outcomesByMethod[method] ?? [:]).sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            let padded = method.padding(toLength: width, withPad: " ", startingAt: 0)
            lines.append("  \(padded)  \(String(format: "%6d", requestsByMethod[method] ?? 0))  " + outcomes.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        lines.append("outcomes: " + outcomes.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        lines.append("refused with a status: \(refusals)")
        if !explanations.isEmpty {
            lines.append("first message per method of failure-like outcomes:")
            for key in explanations.keys.sorted() { lines.append("  \(key): \(explanations[key] ?? "")") }
        }
        lines.append("liveness checks passed: \(livenessChecksPassed)")
        if let failure {
            lines.append("FAILURE: node \(failure.node): \(failure.reason)")
            if let last = failure.lastRequest { lines.append("  last request to it: \(last)") }
            lines.append("  requests since the last passed check: \(failure.recording.path)")
            lines.append("  replay: medrex fuzz-network --replay \(failure.recording.path) (with the same node options)")
            if let tail = failure.logTail { lines.append("  end of its log:\n" + tail.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")) }
        } else {
            lines.append("no node failed")
        }
        return lines.joined(separator: "\n")
    }
}

extension Duration {
    var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
