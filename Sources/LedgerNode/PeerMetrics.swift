import Prometheus

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

    func countProposal(status: Int32) {
        registry.makeCounter(descriptor: Self.proposals, labels: [("status", "\(status)")]).increment()
    }

    func setHeight(channel: String, height: UInt64) {
        registry.makeGauge(descriptor: Self.height, labels: [("channel", channel)]).set(Double(height))
    }
}
