import LedgerWire
import Prometheus

/// The orderer's Prometheus metrics. Labels are channel names and Fabric status names only.
package struct OrdererMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry

    package init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) { self.registry = registry }

    private static var broadcast: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "medrex", subsystem: "orderer", metricName: "broadcast_envelopes", unitName: "total", helpText: "Envelopes answered on Broadcast, by status") }
    private static var blocks: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "medrex", subsystem: "orderer", metricName: "blocks", unitName: "total", helpText: "Blocks cut and stored") }
    private static var blockEnvelopes: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "medrex", subsystem: "orderer", metricName: "block_envelopes", unitName: "total", helpText: "Envelopes in stored blocks") }
    private static var height: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "medrex", subsystem: "ledger", metricName: "height", unitName: "blocks", helpText: "Blocks in the channel's ledger") }

    private static var leader: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "medrex", subsystem: "orderer", metricName: "leader", unitName: "bool", helpText: "1 while this orderer leads the etcd-ordered channel, else 0") }

    func setLeader(channel: String, leading: Bool) {
        registry.makeGauge(descriptor: Self.leader, labels: [("channel", channel)]).set(Double(leading ? 1 : 0))
    }

    func countBroadcast(_ status: Common_Status) {
        registry.makeCounter(descriptor: Self.broadcast, labels: [("status", "\(status)")]).increment()
    }

    func blockStored(channel: String, number: UInt64, envelopes: Int) {
        registry.makeCounter(descriptor: Self.blocks, labels: [("channel", channel)]).increment()
        registry.makeCounter(descriptor: Self.blockEnvelopes, labels: [("channel", channel)]).increment(by: Int64(envelopes))
        setHeight(channel: channel, height: number + 1)
    }

    func setHeight(channel: String, height: UInt64) {
        registry.makeGauge(descriptor: Self.height, labels: [("channel", channel)]).set(Double(height))
    }
}
