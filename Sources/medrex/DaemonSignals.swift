import Logging
import ServiceLifecycle

/// Runs a daemon (a peer or an orderer) as a `ServiceGroup`: SIGTERM and SIGINT start its graceful
/// shutdown; the command returns once it has stopped.
func runDaemon(_ daemon: any Service, logger: Logger) async throws {
    let group = ServiceGroup(services: [daemon], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
}
