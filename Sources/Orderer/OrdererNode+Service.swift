import Logging
import ServiceLifecycle

/// The orderer as a service: a `ServiceGroup` of its parts (swift-service-lifecycle; see
/// `parts()`). `medrex orderer start` runs it in a group that turns SIGTERM and SIGINT into its
/// graceful shutdown, which stops the parts in reverse order.
extension OrdererNode: Service {
    package func run() async throws {
        let group = ServiceGroup(services: try await parts(), gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        try await partsGroup.run(group)
    }
}
