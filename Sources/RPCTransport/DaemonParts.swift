import GRPCCore
import ServiceLifecycle
import Synchronization

/// The parts a daemon is made of, as services of its `ServiceGroup` (swift-service-lifecycle). The
/// group starts them in order and, on a graceful shutdown, stops them in reverse, each after the
/// one started after it has returned: a daemon lists what must outlive everything first (its
/// ledgers), its background work next, its RPC server last (so it drains first).

/// The node's gRPC server: serves until a graceful shutdown, which stops accepting calls and lets
/// the open ones finish before `run` returns; `onShutdown` releases calls that wait for something
/// that will not come (Deliver streams, commit waits).
package struct RPCServerPart: Service, CustomStringConvertible {
    let server: GRPCServer<NodeServerTransport>
    let transport: NodeServerTransport
    let stop: GracefulServerStop
    let onListening: @Sendable (Int) -> Void
    let onShutdown: @Sendable () -> Void

    /// - Parameters:
    ///   - onListening: Gets the port the server listens on (the one bound, with port 0).
    package init(
        server: GRPCServer<NodeServerTransport>, transport: NodeServerTransport, stop: GracefulServerStop,
        onListening: @escaping @Sendable (Int) -> Void, onShutdown: @escaping @Sendable () -> Void
    ) {
        self.server = server
        self.transport = transport
        self.stop = stop
        self.onListening = onListening
        self.onShutdown = onShutdown
    }

    package var description: String { "rpc server" }

    package func run() async throws {
        stop.serving(server)
        let (server, transport, onListening) = (server, transport, onListening)
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    let address = try await transport.listeningAddress
                    onListening(address.ipv4?.port ?? address.ipv6?.port ?? 0)
                }
                try await server.serve()
            }
        } onGracefulShutdown: {
            onShutdown()
        }
    }
}

/// Work that runs until a graceful shutdown reaches it (then it is cancelled), followed by
/// `afterwards` (which also runs when the group is cancelled).
package struct BackgroundPart: Service, CustomStringConvertible {
    package let description: String
    let work: @Sendable () async -> Void
    let afterwards: @Sendable () async -> Void

    package init(_ name: String, work: @escaping @Sendable () async -> Void, afterwards: @escaping @Sendable () async -> Void = {}) {
        description = name
        self.work = work
        self.afterwards = afterwards
    }

    package func run() async throws {
        await cancelWhenGracefulShutdown { await work() }
        // Work that ended by itself (a solo chain has none) does not stop the daemon: the part
        // stays until the shutdown reaches it.
        try? await gracefulShutdown()
        await afterwards()
    }
}

/// Something released once every part started after it has stopped (a graceful shutdown reaches
/// it last), or when the group is cancelled: closing ledgers, an operations endpoint.
package struct ReleasedPart: Service, CustomStringConvertible {
    package let description: String
    let release: @Sendable () async -> Void

    package init(_ name: String, release: @escaping @Sendable () async -> Void) {
        description = name
        self.release = release
    }

    package func run() async throws {
        try? await gracefulShutdown()
        await release()
    }
}

/// A daemon's group of parts, and its shutdown when asked for outside the group (a bench that
/// runs a node in process, or a graceful shutdown of an enclosing group) before or after it runs.
package final class DaemonPartsGroup: Sendable {
    private let state = Mutex<(requested: Bool, group: ServiceGroup?)>((false, nil))

    package init() {}

    /// Runs `group` until its parts have stopped; a graceful shutdown of the task running it
    /// (an enclosing ServiceGroup's) shuts the group down gracefully.
    package func run(_ group: ServiceGroup) async throws {
        let requested = state.withLock { state -> Bool in
            state.group = group
            return state.requested
        }
        if requested { await group.triggerGracefulShutdown() }
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            self.shutDown()
        }
    }

    /// Shuts the group down gracefully (now, or as soon as it runs).
    package func shutDown() {
        let group = state.withLock { state -> ServiceGroup? in
            state.requested = true
            return state.group
        }
        if let group { Task { await group.triggerGracefulShutdown() } }
    }
}
