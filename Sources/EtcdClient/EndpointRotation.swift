import Logging
import RPCTransport

/// Which etcd member the client talks to, and moving on to the next one when that member fails.
actor EndpointRotation {
    private let endpoints: [EtcdEndpoint]
    private let tls: MutualTLS
    private let logger: Logger
    private var nextIndex = 0
    private var generation: UInt64 = 0
    private var current: EndpointConnection?
    /// Connections given up on whose calls in flight have not all ended yet.
    private var retired: [UInt64: EndpointConnection] = [:]
    private var closed = false

    init(endpoints: [EtcdEndpoint], tls: MutualTLS, logger: Logger) {
        self.endpoints = endpoints
        self.tls = tls
        self.logger = logger
    }

    /// The connection in use, opened to the next endpoint in turn when there is none.
    func connection() throws -> EndpointConnection {
        if closed { throw EtcdError(.closed, "the etcd client was closed") }
        if let current { return current }
        let endpoint = endpoints[nextIndex % endpoints.count]
        nextIndex += 1
        generation += 1
        let opened = try EndpointConnection.open(to: endpoint, tls: tls, generation: generation, logger: logger) { [weak self, generation] in
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
