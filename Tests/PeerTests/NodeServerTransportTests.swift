import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LedgerWire
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import NetworkConfig
import RPCTransport
import Testing
@testable import Committer
@testable import GatewayService
@testable import NodeClients
@testable import PeerDaemon
@testable import PhiService


/// The transport of every peer and orderer (`NodeServerTransport`) over real sockets and TLS:
/// oversized messages get RESOURCE_EXHAUSTED on unary and streaming calls, much larger ones are
/// refused without being buffered, a connection that never finishes its TLS handshake is closed
/// after the configured time, and the minimum TLS version is enforced. After each refusal the
/// server still serves.
@Suite struct NodeServerTransportTests {
    typealias Connection = EndorserConnectionTests

    static func proposal(bytes: Int) -> Protos_SignedProposal {
        var proposal = Protos_SignedProposal()
        proposal.proposalBytes = Data(repeating: 0x5A, count: bytes)
        return proposal
    }

    static func unary(_ proposal: Protos_SignedProposal, to address: NodeAddress, tls: MutualTLS) async throws -> Protos_ProposalResponse {
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: address.host, port: address.port), transportSecurity: tls.clientSecurity)
        ) { client in
            try await Protos_Endorser.Client(wrapping: client).processProposal(proposal)
        }
    }

    /// Sends `proposal` on a `medrex.EndorsementStream` stream and returns the first answer.
    static func streamed(_ proposal: Protos_SignedProposal, to address: NodeAddress, tls: MutualTLS) async throws -> Protos_ProposalResponse? {
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: address.host, port: address.port), transportSecurity: tls.clientSecurity)
        ) { client in
            let request = Medrex_EndorsementRequest.with {
                $0.correlationID = 1
                $0.proposal = proposal
            }
            return try await Medrex_EndorsementStream.Client(wrapping: client).processProposals { writer in
                try await writer.write(request)
            } onResponse: { response in
                for try await answer in response.messages { return answer.response }
                return nil
            }
        }
    }

    @Test func anOversizedMessageGetsResourceExhaustedOnUnaryAndStreamAndTheServerKeepsServing() async throws {
        let material = try Connection.Material()
        defer { try? FileManager.default.removeItem(at: material.directory) }
        let served = Connection.Served()
        try await Connection.withServer([Connection.EchoEndorser(served: served), Connection.EchoStream(served: served)], tls: material.server) {
            address in
            let oversized = Self.proposal(bytes: NodeServerTransport.requestBytesMax + 1)
            await #expect { try await Self.unary(oversized, to: address, tls: material.client) } throws: { error in
                (error as? RPCError)?.code == .resourceExhausted
            }
            await #expect { try await Self.streamed(oversized, to: address, tls: material.client) } throws: { error in
                (error as? RPCError)?.code == .resourceExhausted
            }
            // Beyond the transport's bound the message is not buffered: the stream is reset.
            let huge = Self.proposal(bytes: NodeServerTransport.transportRequestBytesMax + 1)
            await #expect(throws: RPCError.self) { try await Self.unary(huge, to: address, tls: material.client) }
            // A message just under the limit, and a small one, are served.
            let largest = Self.proposal(bytes: NodeServerTransport.requestBytesMax - 64)
            let largestAnswer = try await Self.unary(largest, to: address, tls: material.client)
            #expect(largestAnswer.payload == largest.proposalBytes)
            let small = Self.proposal(bytes: 10)
            let smallAnswer = try await Self.streamed(small, to: address, tls: material.client)
            #expect(smallAnswer?.payload == small.proposalBytes)
        }
        #expect(served.unary.load(ordering: .relaxed) == 1)
        #expect(served.streamed.load(ordering: .relaxed) == 1)
    }

    /// Connects over plain TCP and returns how long the server took to close the connection.
    static func secondsUntilClosed(port: Int, sending bytes: [UInt8]) async throws -> Double {
        // From before the connect: the server's timer starts at its accept, which comes after, so
        // a loaded machine's late scheduling of this task cannot make the time look shorter.
        let start = ContinuousClock.now
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singletonMultiThreadedEventLoopGroup)
            .connect(host: "127.0.0.1", port: port).get()
        // On a loaded machine the server may close the connection before these bytes go out: the
        // write then fails on the closed channel, which is the outcome measured.
        if !bytes.isEmpty { try? await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get() }
        let watchdog = channel.eventLoop.scheduleTask(in: .seconds(30)) { channel.close(promise: nil) }
        try await channel.closeFuture.get()
        watchdog.cancel()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    @Test func aHandshakeThatNeverCompletesIsClosedAfterTheTimeout() async throws {
        let material = try Connection.Material()
        defer { try? FileManager.default.removeItem(at: material.directory) }
        var tls = material.server
        tls.options.handshakeTimeoutSeconds = 1
        let served = Connection.Served()
        try await Connection.withServer([Connection.EchoEndorser(served: served)], tls: tls) { address in
            // Silent: not a byte after connecting.
            let silent = try await Self.secondsUntilClosed(port: address.port, sending: [])
            #expect(silent >= 0.9 && silent < 10, "closed after \(silent) s")
            // The start of a ClientHello record, then nothing.
            let partial = try await Self.secondsUntilClosed(port: address.port, sending: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            #expect(partial >= 0.9 && partial < 10, "closed after \(partial) s")
            // A real client that completes its handshake keeps its connection past the timeout.
            try await withGRPCClient(
                transport: .http2NIOPosix(target: .ipv4(address: address.host, port: address.port), transportSecurity: material.client.clientSecurity)
            ) { client in
                let endorser = Protos_Endorser.Client(wrapping: client)
                _ = try await endorser.processProposal(Self.proposal(bytes: 1))
                try await Task.sleep(for: .milliseconds(1_500))
                _ = try await endorser.processProposal(Self.proposal(bytes: 2))
            }
        }
        #expect(served.unary.load(ordering: .relaxed) == 2)
    }

    /// Completes a TLS handshake with the server offering at most `maximum`; returns the error if
    /// the handshake fails.
    static func handshake(port: Int, material: Connection.Material, maximum: TLSVersion) async throws -> (any Error)? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.maximumTLSVersion = maximum
        configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(material.client.certificate.path).map { .certificate($0) }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: material.client.privateKey.path, format: .pem))
        configuration.trustRoots = .certificates(try material.client.trustedCAs.flatMap { try NIOSSLCertificate.fromPEMFile($0.path) })
        configuration.certificateVerification = .noHostnameVerification
        configuration.applicationProtocols = ["h2"]
        let context = try NIOSSLContext(configuration: configuration)
        let outcome = ChannelOutcome()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singletonMultiThreadedEventLoopGroup)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(outcome)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let watchdog = channel.eventLoop.scheduleTask(in: .seconds(20)) { channel.close(promise: nil) }
        defer { watchdog.cancel() }
        let result = try await outcome.handshake.futureResult(on: channel.eventLoop).get()
        try? await channel.close()
        return result
    }

    /// Reports whether the TLS handshake completed or failed (with its error).
    final class ChannelOutcome: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = NIOAny
        private var promise: EventLoopPromise<(any Error)?>?
        private var pendingResult: (any Error)??

        struct Handshake {
            let outcome: ChannelOutcome
            func futureResult(on loop: any EventLoop) -> EventLoopFuture<(any Error)?> {
                loop.submit {
                    let promise = loop.makePromise(of: (any Error)?.self)
                    if let result = outcome.pendingResult { promise.succeed(result) } else { outcome.promise = promise }
                    return promise.futureResult
                }.flatMap { $0 }
            }
        }
        var handshake: Handshake { Handshake(outcome: self) }

        private func finish(_ result: (any Error)?) {
            if let promise {
                self.promise = nil
                promise.succeed(result)
            } else if pendingResult == nil {
                pendingResult = .some(result)
            }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .handshakeCompleted = event as? TLSUserEvent { finish(nil) }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(ChannelError.eof)
            context.fireChannelInactive()
        }
    }

    @Test func theMinimumTLSVersionIsEnforced() async throws {
        let material = try Connection.Material()
        defer { try? FileManager.default.removeItem(at: material.directory) }
        let served = Connection.Served()
        // Default: 1.2 is the floor, so a 1.2-only client is served.
        try await Connection.withServer([Connection.EchoEndorser(served: served)], tls: material.server) { address in
            let tls12 = try await Self.handshake(port: address.port, material: material, maximum: .tlsv12)
            #expect(tls12 == nil, "a TLS 1.2 client was refused: \(String(describing: tls12))")
            let tls11 = try await Self.handshake(port: address.port, material: material, maximum: .tlsv11)
            #expect(tls11 != nil, "a TLS 1.1 client was served")
        }
        var strict = material.server
        strict.options.minimumVersion = .tls13
        try await Connection.withServer([Connection.EchoEndorser(served: served)], tls: strict) { address in
            let tls12 = try await Self.handshake(port: address.port, material: material, maximum: .tlsv12)
            #expect(tls12 != nil, "a TLS 1.2 client was served by a 1.3-only server")
            let tls13 = try await Self.handshake(port: address.port, material: material, maximum: .tlsv13)
            #expect(tls13 == nil, "a TLS 1.3 client was refused: \(String(describing: tls13))")
            // gRPC clients offer 1.3 and are served.
            let answer = try await Self.unary(Self.proposal(bytes: 3), to: address, tls: material.client)
            #expect(answer.payload.count == 3)
        }
    }

    @Test func aClientWhoseCertificateNoTrustedCASignedIsRefused() async throws {
        let material = try Connection.Material()
        let stranger = try Connection.Material()
        defer {
            try? FileManager.default.removeItem(at: material.directory)
            try? FileManager.default.removeItem(at: stranger.directory)
        }
        let served = Connection.Served()
        try await Connection.withServer([Connection.EchoEndorser(served: served)], tls: material.server) { address in
            // Same names, another network's CAs: its client certificate is not trusted.
            var client = stranger.client
            client.trustedCAs = material.client.trustedCAs
            await #expect(throws: RPCError.self) { try await Self.unary(Self.proposal(bytes: 1), to: address, tls: client) }
            let answer = try await Self.unary(Self.proposal(bytes: 1), to: address, tls: material.client)
            #expect(answer.payload.count == 1)
        }
        #expect(served.unary.load(ordering: .relaxed) == 1)
    }

    @Test func serverTLSOptionsAreReadFromTheConfigurationAndBadValuesRefused() throws {
        func peer(_ tlsExtra: String) throws(ConfigError) -> PeerConfiguration {
            try PeerConfiguration.parse(
                yaml: """
                    mspID: HospitalAMSP
                    msp: msp
                    listen: 127.0.0.1:7051
                    tls:
                      certificate: tls/cert.crt
                      privateKey: tls/key.pem
                      clientRootCAs: [ca.pem]
                    \(tlsExtra)
                    data: data
                    """, file: "peer.yaml", baseDirectory: URL(fileURLWithPath: "/tmp"))
        }
        #expect(try peer("").tlsOptions == ServerTLSOptions(minimumVersion: .tls12, handshakeTimeoutSeconds: 10))
        let strict = try peer("  minimumVersion: \"1.3\"\n  handshakeTimeoutSeconds: 3")
        #expect(strict.tlsOptions == ServerTLSOptions(minimumVersion: .tls13, handshakeTimeoutSeconds: 3))
        for bad in ["  minimumVersion: \"1.1\"", "  minimumVersion: \"1.0\"", "  minimumVersion: tls13", "  handshakeTimeoutSeconds: 0",
            "  handshakeTimeoutSeconds: 9999999999999999999999", "  handshakeTimeoutSeconds: -1", "  handshake: 3"]
        {
            #expect(throws: ConfigError.self, "accepted \(bad)") { try peer(bad) }
        }
    }
}
