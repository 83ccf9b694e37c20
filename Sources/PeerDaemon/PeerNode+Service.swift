import ServiceLifecycle

/// The peer as a service of a `ServiceGroup` (swift-service-lifecycle): `medrex peer start` runs it
/// in a group that turns SIGTERM and SIGINT into its graceful shutdown (stop accepting, finish
/// in-flight calls, release streams waiting for blocks, close the ledgers).
extension PeerNode: Service {
    package func run() async throws {
        try await withGracefulShutdownHandler {
            try await run(onListening: { _ in })
        } onGracefulShutdown: {
            self.beginShutdown()
        }
    }
}
