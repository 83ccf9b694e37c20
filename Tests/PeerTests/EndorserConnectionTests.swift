import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LedgerWire
import NetworkConfig
import RPCTransport
import Synchronization
import TestSupport
import Testing
@testable import Committer
@testable import GatewayService
@testable import NodeClients
@testable import PeerDaemon
@testable import PhiService


/// The gateway's connection to another organization's endorser, over real gRPC and mutual TLS:
/// many concurrent proposals on one `medrex.EndorsementStream` stream, each answer reaching its
/// caller; unary `ProcessProposal` for a peer without the stream (Fabric's); a clear error when the
/// peer is down. The endorser here answers each proposal with its own bytes, so that a mismatched
/// answer shows; the real endorser behind the stream runs in PipelineEndToEndTests.
@Suite struct EndorserConnectionTests {
    /// How many proposals each API served.
    final class Served: Sendable {
        let unary = Atomic(0)
        let streamed = Atomic(0)
    }

    static func echo(_ proposal: Protos_SignedProposal) -> Protos_ProposalResponse {
        var response = Protos_ProposalResponse()
        response.response.status = 200
        response.payload = proposal.proposalBytes
        return response
    }

    struct EchoEndorser: Protos_Endorser.SimpleServiceProtocol {
        let served: Served
        func processProposal(request: Protos_SignedProposal, context: ServerContext) async throws -> Protos_ProposalResponse {
            served.unary.add(1, ordering: .relaxed)
            return EndorserConnectionTests.echo(request)
        }
    }

    struct EchoStream: Medrex_EndorsementStream.SimpleServiceProtocol {
        let served: Served
        var shutdown: ShutdownSignal? = nil
        func processProposals(
            request: RPCAsyncSequence<Medrex_EndorsementRequest, any Error>, response: RPCWriter<Medrex_EndorsementResponse>, context: ServerContext
        ) async throws {
            try await StreamedCalls.serve(request, answers: response, inFlightMax: 64, shutdown: shutdown) { request in
                served.streamed.add(1, ordering: .relaxed)
                // Answers leave out of order: later proposals often finish first.
                try? await Task.sleep(for: .milliseconds(Int.random(in: 0...20)))
                var answer = Medrex_EndorsementResponse()
                answer.correlationID = request.correlationID
                answer.response = EndorserConnectionTests.echo(request.proposal)
                return answer
            }
        }
    }

    /// Server and client TLS from freshly generated crypto material (HospitalA's peer serves,
    /// HospitalB's peer connects).
    struct Material {
        let directory: URL
        let server: MutualTLS
        let client: MutualTLS

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-endorser-connection-\(UUID().uuidString)")
            let network = try NetworkDescription.load(file: PeerEndToEndTests.repository.appendingPathComponent("network-config/network.yaml").path)
            _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: directory, force: false)
            let a = CryptoMaterialLayout(root: directory, organization: "HospitalA")
            let b = CryptoMaterialLayout(root: directory, organization: "HospitalB")
            let serving = a.member(kind: .peer, name: "peer0")
            let connecting = b.member(kind: .peer, name: "peer0")
            server = MutualTLS(certificate: serving.tlsCertificate, privateKey: serving.tlsPrivateKey, trustedCAs: [b.tlsCACertificate])
            client = MutualTLS(certificate: connecting.tlsCertificate, privateKey: connecting.tlsPrivateKey, trustedCAs: [a.tlsCACertificate])
        }
    }

    static func withServer(
        _ services: [any RegistrableRPCService], tls: MutualTLS, _ body: @Sendable (NodeAddress) async throws -> Void
    ) async throws {
        let transport = try NodeServerTransport(host: "127.0.0.1", port: 0, tls: tls)
        let server = GRPCServer(transport: transport, services: services)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            let port = try #require(try await transport.listeningAddress.ipv4?.port)
            do {
                try await body(NodeAddress(host: "127.0.0.1", port: port))
            } catch {
                server.beginGracefulShutdown()
                throw error
            }
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
    }

    static func proposal(_ index: Int) -> Protos_SignedProposal {
        var proposal = Protos_SignedProposal()
        proposal.proposalBytes = Data("proposal \(index)".utf8)
        return proposal
    }

    /// Sends `count` proposals at once on `connection`; checks each answer is its own.
    static func sendConcurrently(_ count: Int, on connection: EndorserConnection) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask {
                    let response = try await connection.processProposal(proposal(index))
                    #expect(response.payload == proposal(index).proposalBytes)
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func concurrentProposalsShareOneStreamAndEachGetsItsAnswer() async throws {
        let material = try Material()
        defer { try? FileManager.default.removeItem(at: material.directory) }
        let served = Served()
        try await Self.withServer([EchoEndorser(served: served), EchoStream(served: served)], tls: material.server) { address in
            let connection = EndorserConnection(endpoint: address, tls: material.client)
            defer { connection.close() }
            try await Self.sendConcurrently(300, on: connection)
            try await Self.sendConcurrently(10, on: connection)
        }
        #expect(served.streamed.load(ordering: .relaxed) == 310)
        #expect(served.unary.load(ordering: .relaxed) == 0)
    }

    @Test func aPeerWithoutTheStreamGetsUnaryCalls() async throws {
        let material = try Material()
        defer { try? FileManager.default.removeItem(at: material.directory) }
        let served = Served()
        try await Self.withServer([EchoEndorser(served: served)], tls: material.server) { address in
            let connection = EndorserConnection(endpoint: address, tls: material.client)
            defer { connection.close() }
            try await Self.sendConcurrently(50, on: connection)
        }
        #expect(served.unary.load(ordering: .relaxed) == 50)
        #expect(served.streamed.load(ordering: .relaxed) == 0)
    }

    @Test func aPeerThatIsDownFailsTheCallWithUnavailable() async throws {
        let material = try Material()
        defer { try? FileManager.default.removeItem(at: material.directory) }
        let connection = EndorserConnection(endpoint: NodeAddress(host: "127.0.0.1", port: try ChildProcess.freePort()), tls: material.client)
        defer { connection.close() }
        await #expect { try await connection.processProposal(Self.proposal(0), timeout: .seconds(20)) } throws: { error in
            (error as? RPCError)?.code == .unavailable
        }
    }

    @Test func aServerShuttingDownEndsTheStreamsItServesAndDrains() async throws {
        let material = try Material()
        defer { try? FileManager.default.removeItem(at: material.directory) }
        let served = Served()
        let shutdown = ShutdownSignal()
        let transport = try NodeServerTransport(host: "127.0.0.1", port: 0, tls: material.server)
        let server = GRPCServer(transport: transport, services: [EchoStream(served: served, shutdown: shutdown)])
        final class Stopped: Sendable { let value = Atomic(false) }
        let stopped = Stopped()
        let serving = Task {
            try await server.serve()
            stopped.value.store(true, ordering: .relaxed)
        }
        let port = try #require(try await transport.listeningAddress.ipv4?.port)
        let connection = EndorserConnection(endpoint: NodeAddress(host: "127.0.0.1", port: port), tls: material.client)
        try await Self.sendConcurrently(20, on: connection)
        // The connection keeps its stream open; graceful shutdown waits for open calls, so only
        // the signal lets the server stop.
        server.beginGracefulShutdown()
        shutdown.fire()
        let deadline = ContinuousClock.now + .seconds(20)
        while !stopped.value.load(ordering: .relaxed), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let didStop = stopped.value.load(ordering: .relaxed)
        #expect(didStop, "the server still waits for the endorsement stream")
        await #expect(throws: RPCError.self) { try await connection.processProposal(Self.proposal(0), timeout: .seconds(10)) }
        connection.close()
        try await serving.value
        #expect(served.streamed.load(ordering: .relaxed) == 20)
    }

    @Test func pendingAnswersExpireAndFailWhenTheStreamCloses() async throws {
        let answers = PendingAnswers<Int>()
        let sent = SentIDs()
        let late = try await sent.start(on: answers, timeout: .milliseconds(10))
        let answered = try await sent.start(on: answers, timeout: nil)
        let closed = try await sent.start(on: answers, timeout: nil)
        let ids = sent.ids.withLock { $0 }
        #expect(Set(ids).count == 3)
        try await Task.sleep(for: .milliseconds(20))
        answers.expire(message: "too late")
        answers.deliver(7, to: ids[1])
        answers.deliver(8, to: 999)  // unknown: ignored
        answers.close(RPCError(code: .unavailable, message: "gone"))
        #expect(try await answered.value == 7)
        await #expect { try await late.value } throws: { ($0 as? RPCError)?.code == .deadlineExceeded }
        await #expect { try await closed.value } throws: { ($0 as? RPCError)?.code == .unavailable }
        // After closing, calls fail at once without sending.
        await #expect(throws: RPCError.self) { try await answers.call { _ in Issue.record("sent on a closed stream") } }
    }
}

/// The correlation ids calls have sent, in order.
final class SentIDs: Sendable {
    let ids = Mutex<[UInt64]>([])

    /// Starts a call on `answers` and returns once it has sent its request.
    func start(on answers: PendingAnswers<Int>, timeout: Duration?) async throws -> Task<Int, any Error> {
        let before = ids.withLock { $0.count }
        let task = Task { try await answers.call(timeout: timeout) { id in self.ids.withLock { $0.append(id) } } }
        while ids.withLock({ $0.count }) == before { try await Task.sleep(for: .milliseconds(5)) }
        return task
    }
}
