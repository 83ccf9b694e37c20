import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// A daemon's operations endpoint (plain HTTP, meant for loopback or an operations network):
/// `GET /healthz` answers 200 `{"status":"OK"}` while every health check passes and 503 naming the
/// failing checks otherwise; `GET /metrics` answers the Prometheus text format.
package final class OperationsServer: Sendable {
    package typealias HealthCheck = @Sendable () async -> String?

    private let registry: PrometheusCollectorRegistry
    private let checks: [String: HealthCheck]
    private let channel: any Channel

    /// Binds `host:port` (port 0 picks a free one, see `port`).
    package init(host: String, port: Int, registry: PrometheusCollectorRegistry, checks: [String: HealthCheck] = [:]) async throws {
        self.registry = registry
        self.checks = checks
        let handler = { @Sendable (channel: any Channel) -> EventLoopFuture<Void> in
            channel.pipeline.configureHTTPServerPipeline().flatMap {
                channel.pipeline.addHandler(OperationsHandler(registry: registry, checks: checks))
            }
        }
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer(handler)
            .bind(host: host, port: port)
            .get()
    }

    package var port: Int { channel.localAddress?.port ?? 0 }

    package func close() async {
        try? await channel.close()
    }
}

/// Answers one HTTP request at a time on a connection.
private final class OperationsHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked Sendable: NIO calls a handler only on its channel's event loop.
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let checks: [String: OperationsServer.HealthCheck]
    private var path = ""
    private var method = HTTPMethod.GET

    init(registry: PrometheusCollectorRegistry, checks: [String: OperationsServer.HealthCheck]) {
        self.registry = registry
        self.checks = checks
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = String(head.uri.split(separator: "?").first ?? "")
            method = head.method
        case .body:
            break
        case .end:
            let (path, method, registry, checks) = (self.path, self.method, self.registry, self.checks)
            let loop = context.eventLoop
            let box = NIOLoopBound(context, eventLoop: loop)
            let handler = NIOLoopBound(self, eventLoop: loop)
            Task {
                let (status, contentType, body) = await Self.answer(path: path, method: method, registry: registry, checks: checks)
                loop.execute {
                    handler.value.respond(context: box.value, status: status, contentType: contentType, body: body)
                }
            }
        }
    }

    private static func answer(
        path: String, method: HTTPMethod, registry: PrometheusCollectorRegistry, checks: [String: OperationsServer.HealthCheck]
    ) async -> (HTTPResponseStatus, String, String) {
        guard method == .GET else { return (.methodNotAllowed, "text/plain", "only GET\n") }
        switch path {
        case "/healthz":
            var failures: [String] = []
            for (name, check) in checks.sorted(by: { $0.key < $1.key }) {
                if let problem = await check() { failures.append("\"\(name)\":\"\(problem.replacingOccurrences(of: "\"", with: "'"))\"") }
            }
            if failures.isEmpty { return (.ok, "application/json", "{\"status\":\"OK\"}\n") }
            return (.serviceUnavailable, "application/json", "{\"status\":\"Service Unavailable\",\"failed_checks\":{\(failures.joined(separator: ","))}}\n")
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4", registry.emitToString())
        default:
            return (.notFound, "text/plain", "not found\n")
        }
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, contentType: String, body: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
