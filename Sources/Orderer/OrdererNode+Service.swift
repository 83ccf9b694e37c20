import ServiceLifecycle

/// The orderer as a service of a `ServiceGroup` (swift-service-lifecycle): `medrex orderer start`
/// runs it in a group that turns SIGTERM and SIGINT into its graceful shutdown (stop accepting,
/// answer the envelopes read, end Deliver streams, give up leadership, close the ledgers).
extension OrdererNode: Service {
    package func run() async throws {
        try await withGracefulShutdownHandler {
            try await run(onListening: { _ in })
        } onGracefulShutdown: {
            self.beginShutdown()
        }
    }
}
