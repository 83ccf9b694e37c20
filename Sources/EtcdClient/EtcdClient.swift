import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import RPCTransport

/// A client of an etcd v3 cluster over gRPC and mutual TLS.
///
/// It keeps one long-lived connection, to one member at a time. A call that fails because the member
/// is unavailable (down, unreachable, or without a leader) moves the client on to the next endpoint
/// and is tried again there, a bounded number of times. Every unary call has a timeout; watches and
/// lease keep-alives are long-lived streams, re-established on another member when theirs fails.
///
/// A write that failed over may have been applied by the member that failed before it answered, and
/// is then applied again (a put) or found already done (a transaction's comparison fails). Medrex's
/// uses are written so that either outcome is safe: `createIfAbsent` that returns `false` means the
/// key exists, possibly written by the same caller's earlier attempt.
///
/// Call `close()` when done with the client.
package final class EtcdClient: EtcdKeyValueStore {
    /// How the client reaches the cluster and how long it waits.
    package struct Configuration: Sendable {
        /// The members' client addresses, tried in this order and then round again.
        package var endpoints: [EtcdEndpoint]
        /// Mutual TLS to the members: the client's certificate and key, and the CAs that sign the
        /// members' certificates. etcd's client traffic carries every ordered transaction, so it is
        /// never sent in plaintext.
        package var tls: MutualTLS
        /// The longest a unary call may take, including waiting for a connection.
        package var callTimeout: Duration
        /// How many times one call is tried, across endpoints, before `.unavailable` is reported.
        package var attemptsPerCall: Int
        /// The pause after every round of the endpoints that all failed, before trying again.
        package var pauseBetweenRounds: Duration

        package init(
            endpoints: [EtcdEndpoint],
            tls: MutualTLS,
            callTimeout: Duration = .seconds(5),
            attemptsPerCall: Int? = nil,
            pauseBetweenRounds: Duration = .milliseconds(250)
        ) {
            self.endpoints = endpoints
            self.tls = tls
            self.callTimeout = callTimeout
            self.attemptsPerCall = attemptsPerCall ?? max(3, 3 * endpoints.count)
            self.pauseBetweenRounds = pauseBetweenRounds
        }
    }

    package let configuration: Configuration
    let rotation: EndpointRotation
    let logger: Logger

    /// A client of the members at `configuration.endpoints`. Nothing is connected until the first call.
    package init(configuration: Configuration, logger: Logger = Logger(label: "medrex.etcd")) throws {
        guard !configuration.endpoints.isEmpty else {
            throw EtcdError(.invalidArgument, "an etcd client needs at least one endpoint")
        }
        guard configuration.attemptsPerCall >= 1 else {
            throw EtcdError(.invalidArgument, "attemptsPerCall must be at least 1, not \(configuration.attemptsPerCall)")
        }
        // Unreadable TLS files are a configuration error now, not an unexplained failure of every call.
        do {
            try configuration.tls.checkClientFiles()
        } catch {
            throw EtcdError(.invalidArgument, "the etcd client's TLS files: \(error)")
        }
        self.configuration = configuration
        self.logger = logger
        self.rotation = EndpointRotation(endpoints: configuration.endpoints, tls: configuration.tls, logger: logger)
    }

    /// A client of the members at `endpoints` (each `host:port`) over mutual TLS.
    package convenience init(
        endpoints: [String], tls: MutualTLS, callTimeout: Duration = .seconds(5), logger: Logger = Logger(label: "medrex.etcd")
    ) throws {
        try self.init(
            configuration: Configuration(endpoints: endpoints.map(EtcdEndpoint.init(parsing:)), tls: tls, callTimeout: callTimeout),
            logger: logger
        )
    }

    /// Closes the connections: calls, watches and keep-alives in flight fail, and new ones are refused.
    package func close() async {
        await rotation.close()
    }

    /// The endpoint of the member the client is connected to (connecting if it is not yet).
    package func currentEndpoint() async throws -> EtcdEndpoint {
        try await rotation.connection().endpoint
    }

    // MARK: - Calls

    /// Asks etcd to refuse a call when the member has no leader, rather than wait for one, so that
    /// the client moves on to a member that is part of a working majority. Streams opened with it are
    /// also ended by etcd when the member loses its leader.
    static let requireLeader: Metadata = ["hasleader": "true"]

    /// Options for unary calls: the timeout, and failing at once when the member cannot be reached.
    var unaryOptions: CallOptions {
        var options = CallOptions.defaults
        options.timeout = configuration.callTimeout
        options.waitForReady = false
        return options
    }

    /// Options for long-lived streams: no overall timeout (keep-alive pings notice dead connections).
    static var streamOptions: CallOptions {
        var options = CallOptions.defaults
        options.waitForReady = false
        return options
    }

    /// Runs one unary call on the current member, failing over to the next endpoint and trying again
    /// while members are unavailable. `name` says what the call was for in errors.
    func unary<Result: Sendable>(
        _ name: String,
        _ body: (GRPCClient<HTTP2ClientTransport.Posix>, CallOptions) async throws -> Result
    ) async throws -> Result {
        var attempt = 0
        var lastProblem = ""
        while true {
            attempt += 1
            let connection = try await rotation.connection()
            do {
                return try await body(connection.client, unaryOptions)
            } catch let error as RPCError {
                if Task.isCancelled { throw CancellationError() }
                switch error.code {
                case .unavailable:
                    lastProblem = "\(connection.endpoint): \(error.message)"
                    await rotation.failOver(from: connection, because: error.message)
                case .deadlineExceeded:
                    // The member may be cut off; the next call tries another. This one is not repeated:
                    // a write that timed out may have been applied.
                    await rotation.failOver(from: connection, because: "a call timed out")
                    throw EtcdError(.timeout, "\(name) got no answer from \(connection.endpoint) within \(configuration.callTimeout)")
                default:
                    throw EtcdError(error, during: name)
                }
            } catch let error as RuntimeError where error.code == .clientIsStopped {
                // Another call failed over while this one was starting on the connection it gave up.
                guard await rotation.isRetired(connection) else { throw EtcdError(.closed, "\(name): the etcd client was closed") }
                lastProblem = "\(connection.endpoint): connection given up"
            }
            guard attempt < configuration.attemptsPerCall else {
                throw EtcdError(
                    .unavailable,
                    "\(name): no etcd member could serve the call in \(attempt) attempts over \(configuration.endpoints.count) endpoint(s); last: \(lastProblem)"
                )
            }
            if attempt % configuration.endpoints.count == 0 {
                try await Task.sleep(for: configuration.pauseBetweenRounds)
            }
        }
    }
}
