import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import RPCTransport

/// The one long-lived gRPC client to the etcd member in use, with the task that runs its connection.
struct EndpointConnection: Sendable {
    let endpoint: EtcdEndpoint
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    /// Counts the connections made; a failure reported for an older one does not move the client on again.
    let generation: UInt64
    let runner: Task<Void, Never>

    /// Opens a client to `endpoint` over HTTP/2 and mutual TLS and starts running its connection:
    /// the member's certificate must be signed by one of `tls.trustedCAs` and name the endpoint's
    /// host; the client presents `tls.certificate`.
    static func open(
        to endpoint: EtcdEndpoint,
        tls: MutualTLS,
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
            transportSecurity: tls.clientSecurity,
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
