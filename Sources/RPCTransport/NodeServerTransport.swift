import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import NetworkConfig

/// The gRPC server transport of Medrex's peers and orderers: HTTP/2 over mutual TLS, on gRPC's own
/// HTTP/2 pipeline, with what its stock Posix transport does not offer:
/// - the minimum TLS version is configurable (1.2, the floor, or 1.3);
/// - a connection that has not finished its TLS handshake within the configured time is closed,
///   so half-open handshakes cannot hold the server's sockets;
/// - a request message over `requestBytesMax` ends its RPC with RESOURCE_EXHAUSTED (with status
///   and trailers, on every method, unary or streaming). Messages declaring more than
///   `transportRequestBytesMax` are refused by the transport before they are buffered, which
///   resets the stream (the client sees CANCELLED): that bound keeps a client from making the
///   server buffer an arbitrarily large message just to be told it is too large.
package final class NodeServerTransport: ListeningServerTransport {
    package typealias Bytes = GRPCNIOTransportBytes

    /// The largest request message a node handles (gRPC's customary 4 MiB).
    package static let requestBytesMax = 4 * 1024 * 1024
    /// The largest request message the transport buffers in order to refuse it with
    /// RESOURCE_EXHAUSTED; larger ones reset the stream.
    package static let transportRequestBytesMax = 4 * requestBytesMax

    private let underlying: HTTP2ServerTransport.Custom<TLSListenerFactory>
    private let requestBytesMax: Int

    /// A server on `host:port` (port 0: any free port, see `listeningAddress`).
    /// - Parameter context: The TLS context new connections get (by default one made from `tls`,
    ///   never replaced).
    package init(
        host: String, port: Int, tls: MutualTLS, context: ServerTLSContext? = nil, requestBytesMax: Int = NodeServerTransport.requestBytesMax
    ) throws {
        var config = HTTP2ServerTransport.Custom<TLSListenerFactory>.Config.defaults
        config.http2.maxConcurrentStreams = ServerTransportSettings.concurrentStreamsMax
        config.rpc.maxRequestPayloadSize = max(requestBytesMax, Self.transportRequestBytesMax)
        let factory = TLSListenerFactory(
            host: host, port: port, context: try context ?? ServerTLSContext(tls),
            handshakeTimeout: .seconds(Int64(tls.options.handshakeTimeoutSeconds)),
            eventLoopGroup: MultiThreadedEventLoopGroup.singletonMultiThreadedEventLoopGroup)
        self.underlying = HTTP2ServerTransport.Custom(listenerFactory: factory, config: config)
        self.requestBytesMax = requestBytesMax
    }

    package var listeningAddress: GRPCNIOTransportCore.SocketAddress {
        get async throws {
            guard let address = await underlying.listeningAddress else {
                throw RuntimeError(code: .serverIsStopped, message: "the server is not listening: it failed to bind or has shut down")
            }
            return address
        }
    }

    package func configure(context: GRPCServerContext) {
        underlying.configure(context: context)
    }

    package func listen(
        streamHandler: @escaping @Sendable (_ stream: RPCStream<Inbound, Outbound>, _ context: ServerContext) async -> Void
    ) async throws {
        let limit = requestBytesMax
        try await underlying.listen { stream, context in
            let inbound = stream.inbound.map { part throws -> RPCRequestPart<Bytes> in
                if case .message(let bytes) = part, bytes.count > limit {
                    throw RPCError(
                        code: .resourceExhausted,
                        message: "request message of \(bytes.count) bytes exceeds the limit of \(limit) bytes")
                }
                return part
            }
            await streamHandler(RPCStream(descriptor: stream.descriptor, inbound: RPCAsyncSequence(wrapping: inbound), outbound: stream.outbound), context)
        }
    }

    package func beginGracefulShutdown() {
        underlying.beginGracefulShutdown()
    }
}

/// Listens on a TCP address; each accepted connection gets a TLS handler from the current context,
/// a handshake deadline, then gRPC's HTTP/2 pipeline.
package struct TLSListenerFactory: HTTP2ServerTransport.ListenerFactory {
    let host: String
    let port: Int
    let context: ServerTLSContext
    let handshakeTimeout: TimeAmount
    package let eventLoopGroup: any EventLoopGroup

    package func makeListeningChannel(
        listenerConfigurator: HTTP2ServerTransport.ListenerConfigurator,
        connectionConfigurator: HTTP2ServerTransport.ConnectionConfigurator
    ) async throws -> NIOAsyncChannel<HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel, Never> {
        let context = self.context
        let handshakeTimeout = self.handshakeTimeout
        return try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in listenerConfigurator.configure(channel: channel) }
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context.context))
                    try channel.pipeline.syncOperations.addHandler(TLSHandshakeDeadline(timeout: handshakeTimeout))
                }.flatMap {
                    connectionConfigurator.configure(channel: channel, tls: .configured(requireALPN: false))
                }
            }
    }
}

/// Closes a connection whose TLS handshake has not completed within `timeout` of the connection
/// becoming active; removes itself once the handshake completes. It sits after the TLS handler,
/// which announces the completed handshake with `TLSUserEvent.handshakeCompleted`.
final class TLSHandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    private var handshakeCompleted = false

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            handshakeCompleted = true
            deadline?.cancel()
            deadline = nil
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func arm(context: ChannelHandlerContext) {
        guard deadline == nil, !handshakeCompleted else { return }
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            channel.close(mode: .all, promise: nil)
        }
    }
}
