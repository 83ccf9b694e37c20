import GRPCCore
import GRPCNIOTransportHTTP2
import Logging

/// The one long-lived gRPC client to the etcd member in use, with the task that runs its connection.
struct EndpointConnection: Sendable {
    let endpoint: EtcdEndpoint
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    /// Counts the connections made; a failure reported for an older one does not move the client on again.
    let generation: UInt64
    let runner: Task<Void, Never>

    /// Opens a client to `endpoint` over plain HTTP/2 and starts running its connection.
    static func open(
        to endpoint: EtcdEndpoint,
        generation: UInt64,
        logger: Logger,
        onEnd: @escaping @Sendable () async -> Void
    ) throws -> EndpointConnection {
        let target: any ResolvableTarget =
            if endpoint.host.contains(":") {
                .ipv6(address: endpoint.host, port: endpoint.port)
            } else if endpoint.host.split(separator: ".").count == 4, endpoint.host.allSatisfy({ $0 == "." || $0.isNumber }) {
                .ipv4(address: endpoint.host, port: endpoint.port)
            } else {
                .dns(host: endpoint.host, port: endpoint.port)
            }
        let transport = try HTTP2ClientTransport.Posix(
            target: target,
            transportSecurity: .plaintext,
            config: .defaults { config in
                // Pings on open streams notice a member that vanished without closing the connection,
                // so that watches and lease keep-alives do not wait on it forever. etcd refuses pings
                // more often than every 5 s, and pings with no stream open.
                config.connection.keepalive = .init(time: .seconds(10), timeout: .seconds(5), allowWithoutCalls: false)
                // A member that is down is dropped by failing over, not by reconnecting slowly.
                config.backoff = .init(initial: .milliseconds(100), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
            }
        )
        let client = GRPCClient(transport: transport)
        let runner = Task {
            do {
                try await client.runConnections()
            } catch {
                logger.debug("etcd connection ended", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            }
            await onEnd()
        }
        return EndpointConnection(endpoint: endpoint, client: client, generation: generation, runner: runner)
    }

    /// Lets calls in flight finish and stops accepting new ones.
    func beginShutdown() {
        client.beginGracefulShutdown()
    }
}

/// Which etcd member the client talks to, and moving on to the next one when that member fails.
actor EndpointRotation {
    private let endpoints: [EtcdEndpoint]
    private let logger: Logger
    private var nextIndex = 0
    private var generation: UInt64 = 0
    private var current: EndpointConnection?
    /// Connections given up on whose calls in flight have not all ended yet.
    private var retired: [UInt64: EndpointConnection] = [:]
    private var closed = false

    init(endpoints: [EtcdEndpoint], logger: Logger) {
        self.endpoints = endpoints
        self.logger = logger
    }

    /// The connection in use, opened to the next endpoint in turn when there is none.
    func connection() throws -> EndpointConnection {
        if closed { throw EtcdError(.closed, "the etcd client was closed") }
        if let current { return current }
        let endpoint = endpoints[nextIndex % endpoints.count]
        nextIndex += 1
        generation += 1
        let opened = try EndpointConnection.open(to: endpoint, generation: generation, logger: logger) { [weak self, generation] in
            await self?.connectionEnded(generation)
        }
        logger.debug("etcd client connecting", metadata: ["endpoint": "\(endpoint)"])
        current = opened
        return opened
    }

    /// Gives up on `failed` (if it is still the one in use): the next call connects to the next endpoint.
    func failOver(from failed: EndpointConnection, because reason: String) {
        guard let current, current.generation == failed.generation else { return }
        logger.info(
            "etcd member failed; moving to the next endpoint",
            metadata: ["endpoint": "\(current.endpoint)", "reason": "\(reason)"]
        )
        current.beginShutdown()
        retired[current.generation] = current
        self.current = nil
    }

    private func connectionEnded(_ generation: UInt64) {
        retired[generation] = nil
        if current?.generation == generation { current = nil }
    }

    /// Whether `connection` is no longer the one in use (so an error about it being stopped is stale).
    func isRetired(_ connection: EndpointConnection) -> Bool {
        current?.generation != connection.generation
    }

    /// Closes every connection: calls in flight fail, and no new ones start.
    func close() async {
        closed = true
        let all = Array(retired.values) + (current.map { [$0] } ?? [])
        current = nil
        retired = [:]
        for connection in all {
            connection.beginShutdown()
            connection.runner.cancel()
        }
        for connection in all { await connection.runner.value }
    }
}
