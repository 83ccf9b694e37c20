import LedgerCore
import LedgerWire
import Prometheus
import NodeClients

/// The peer's Prometheus metrics. Labels are channel names and response statuses only (never
/// chaincode arguments, keys or values).
package struct PeerMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry

    package init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) { self.registry = registry }

    private static var proposals: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "medrex", subsystem: "endorser", metricName: "proposals", unitName: "total", helpText: "Proposals answered, by response status")
    }
    private static var height: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "medrex", subsystem: "ledger", metricName: "height", unitName: "blocks", helpText: "Blocks in the channel's ledger")
    }

    private static var transactions: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "medrex", subsystem: "ledger", metricName: "transactions", unitName: "total", helpText: "Transactions committed, by validation code")
    }
    private static var blocks: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "medrex", subsystem: "ledger", metricName: "blocks_committed", unitName: "total", helpText: "Blocks committed from the ordering service")
    }
    private static var validationDuration: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "medrex", subsystem: "ledger", metricName: "block_validation_duration", unitName: "seconds", helpText: "Time to validate a block against the state (after its signature checks)")
    }
    private static var commitDuration: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "medrex", subsystem: "ledger", metricName: "block_commit_duration", unitName: "seconds", helpText: "Time to store a block and apply its writes")
    }
    private static let durationBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

    package func recordCommit(channel: String, codes: [Protos_TxValidationCode], height: UInt64, validation: Duration, commit: Duration) {
        var counts: [String: Int] = [:]
        for code in codes { counts[code.name, default: 0] += 1 }
        for (code, count) in counts {
            registry.makeCounter(descriptor: Self.transactions, labels: [("channel", channel), ("code", code)]).increment(by: Int64(count))
        }
        registry.makeCounter(descriptor: Self.blocks, labels: [("channel", channel)]).increment()
        registry.makeDurationHistogram(descriptor: Self.validationDuration, labels: [("channel", channel)], buckets: Self.durationBuckets.map { .milliseconds($0 * 1000) })
            .record(validation)
        registry.makeDurationHistogram(descriptor: Self.commitDuration, labels: [("channel", channel)], buckets: Self.durationBuckets.map { .milliseconds($0 * 1000) })
            .record(commit)
        setHeight(channel: channel, height: height)
    }

    private static var phiRequests: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "medrex", subsystem: "phi", metricName: "requests", unitName: "total",
            helpText: "PHI service outcomes, by operation and outcome (no record ids, no PHI)")
    }

    package func countPhiRequest(operation: String, outcome: String) {
        registry.makeCounter(descriptor: Self.phiRequests, labels: [("operation", operation), ("outcome", outcome)]).increment()
    }

    package func countProposal(status: Int32) {
        registry.makeCounter(descriptor: Self.proposals, labels: [("status", "\(status)")]).increment()
    }

    package func setHeight(channel: String, height: UInt64) {
        registry.makeGauge(descriptor: Self.height, labels: [("channel", channel)]).set(Double(height))
    }
}
