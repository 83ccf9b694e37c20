import Logging
import ServiceLifecycle

/// The peer as a service: a `ServiceGroup` of its parts (swift-service-lifecycle; see `parts()`).
/// `medrex peer start` runs it in a group that turns SIGTERM and SIGINT into its graceful
/// shutdown, which stops the parts in reverse order.
extension PeerNode: Service {
    package func run() async throws {
        let group = ServiceGroup(services: try await parts(), gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        try await partsGroup.run(group)
    }
}
