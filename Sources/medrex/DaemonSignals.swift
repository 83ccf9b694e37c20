import Logging
import ServiceLifecycle
import UnixSignals

/// Runs a daemon (a peer or an orderer) as a `ServiceGroup`: SIGTERM and SIGINT start its graceful
/// shutdown, SIGHUP calls `onHangUp` (the daemons reload their TLS certificate and key); the
/// command returns once it has stopped.
func runDaemon(_ daemon: any Service, logger: Logger, onHangUp: @escaping @Sendable () -> Void) async throws {
    let group = ServiceGroup(services: [daemon], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    let hangUps = await UnixSignalsSequence(trapping: .sighup)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            for await _ in hangUps { onHangUp() }
        }
        defer { tasks.cancelAll() }
        try await group.run()
    }
}
