import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Runs a daemon (a peer or an orderer) as a `ServiceGroup`: SIGTERM and SIGINT start its graceful
/// shutdown, SIGHUP calls `onHangUp` (the daemons reload their TLS certificate and key); the
/// command returns once it has stopped.
func runDaemon(_ daemon: any Service, logger: Logger, onHangUp: @escaping @Sendable () -> Void) async throws {
    // A write to a connection the other end closed (a client, PostgreSQL, a network HSM's
    // PKCS#11 module) must be an error of that write, not a SIGPIPE that ends the daemon.
    signal(SIGPIPE, SIG_IGN)
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
