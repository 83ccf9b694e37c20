import GRPCCore
import Synchronization

/// Fires once, when a node begins to shut down: its long-lived streams (the orderer's Broadcast,
/// the peer's endorsement stream) stop reading requests, answer those already read, and end, so
/// that the server's graceful shutdown, which waits for open calls, can finish.
package final class ShutdownSignal: Sendable {
    private struct State {
        var fired = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    package init() {}

    package func fire() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.fired = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiting { waiter.resume() }
    }

    /// Returns when the signal fires, or when the waiting task is cancelled.
    package func wait() async {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let waiting = state.withLock { state -> Bool in
                    guard !state.fired, !Task.isCancelled else { return false }
                    state.waiters[id] = continuation
                    return true
                }
                if !waiting { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}

/// A daemon's graceful stop, whether requested before or after its server starts: the server
/// stops accepting calls and waits for open ones, and the long-lived streams that wait on
/// `signal` end. The peer and the orderer each hold one.
package final class GracefulServerStop: Sendable {
    package let signal = ShutdownSignal()
    private let state = Mutex<(requested: Bool, server: GRPCServer<NodeServerTransport>?)>((false, nil))

    package init() {}

    /// Records the daemon's server; stops it at once when the stop was requested before it started.
    package func serving(_ server: GRPCServer<NodeServerTransport>) {
        let requested = state.withLock { state -> Bool in
            state.server = server
            return state.requested
        }
        if requested { server.beginGracefulShutdown() }
    }

    /// Requests the stop (SIGTERM and SIGINT do, through the daemon's ServiceGroup).
    package func request() {
        let server = state.withLock { state -> GRPCServer<NodeServerTransport>? in
            state.requested = true
            return state.server
        }
        server?.beginGracefulShutdown()
        signal.fire()
    }
}
