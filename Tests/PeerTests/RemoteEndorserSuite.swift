import BuiltInChaincodes
import Endorser
import Foundation
import Identity
import LedgerCore
import LedgerWire
import RPCTransport
import Testing
import TestSupport
import WorldState
@testable import Committer
@testable import NodeClients
@testable import PeerDaemon

/// The remote-endorser seam: the gateway's connection to another peer's endorser over gRPC and
/// mutual TLS, and the in-process endorser of the simulation, held to the same cases against one
/// real `EndorsementService` (the `_lifecycle` chaincode on an in-memory state).
@Suite struct RemoteEndorserSuite {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case grpc
        case inProcess
        var testDescription: String { rawValue }
    }

    struct Fixture {
        let pki: TestPKI
        let peer: SigningIdentity
        let client: SigningIdentity
        let service: EndorsementService

        init() throws {
            pki = try TestPKI(mspID: "HospitalAMSP")
            peer = try pki.identity("peer0", units: ["peer"])
            client = try pki.identity("dr", units: ["client"])
            let membership = MembershipRegistry([try pki.msp()])
            var resources = ChannelEndorsementResources(
                state: InMemoryStateDatabase(), history: { _, _ in [] }, isCommitted: { _ in false },
                chaincodes: [ChaincodeDefinition.namespace: (ChaincodeDefinition.lifecycleVersion, LifecycleContract(organizations: ["HospitalAMSP"]))])
            resources.membership = membership
            service = EndorsementService(signer: peer, membership: membership, channels: ["healthchannel": resources], clock: { TestPKI.now })
        }

        func proposal() throws -> Protos_SignedProposal {
            try ProposalFactory.make(
                channel: "healthchannel", chaincode: ChaincodeDefinition.namespace, arguments: ["approvals", "cc", "1.0", "1"], signer: client,
                timestamp: TestPKI.now)
        }
    }

    /// Runs `body` with the endorser reached through `backend`.
    static func withEndorser(_ backend: Backend, _ fixture: Fixture, _ body: @Sendable (any RemoteEndorser) async throws -> Void) async throws {
        switch backend {
        case .inProcess:
            let service = fixture.service
            try await body(InProcessEndorser(name: "peer0") { service })
        case .grpc:
            let material = try EndorserConnectionTests.Material()
            defer { try? FileManager.default.removeItem(at: material.directory) }
            let service = fixture.service
            let rpc = EndorserRPCService(endorser: { service }, metrics: PeerMetrics())
            try await EndorserConnectionTests.withServer(
                [rpc, EndorsementStreamService(endorser: rpc, shutdown: ShutdownSignal())], tls: material.server
            ) { address in
                let connection = EndorserConnection(endpoint: address, tls: material.client)
                defer { connection.close() }
                try await body(connection)
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func endorsesAsTheEndorserItselfWould(_ backend: Backend) async throws {
        let fixture = try Fixture()
        let proposal = try fixture.proposal()
        let direct = fixture.service.processProposal(proposal)
        #expect(direct.response.status == 200)
        try await Self.withEndorser(backend, fixture) { endorser in
            let response = try await endorser.processProposal(proposal, timeout: .seconds(30))
            #expect(response.response.status == 200)
            #expect(response.payload == direct.payload, "the same result, hashed with the same proposal")
            #expect(response.endorsement.endorser == Data(fixture.peer.serialized))
        }
    }

    @Test(arguments: Backend.allCases)
    func aRefusalIsAResponseNotAnError(_ backend: Backend) async throws {
        let fixture = try Fixture()
        var tampered = try fixture.proposal()
        tampered.signature = Data(try fixture.client.sign(Array("something else".utf8)))
        let forged = tampered
        let direct = fixture.service.processProposal(forged)
        #expect(direct.response.status >= 400)
        try await Self.withEndorser(backend, fixture) { endorser in
            let response = try await endorser.processProposal(forged, timeout: .seconds(30))
            #expect(response.response.status == direct.response.status)
            #expect(response.response.message == direct.response.message)
            #expect(response.endorsement.signature.isEmpty)
        }
    }

    @Test(arguments: Backend.allCases)
    func aPeerThatIsDownIsAnError(_ backend: Backend) async throws {
        let fixture = try Fixture()
        let proposal = try fixture.proposal()
        let endorser: any RemoteEndorser
        switch backend {
        case .inProcess:
            endorser = InProcessEndorser(name: "peer0") { throw RemoteEndorserSuite.Down() }
        case .grpc:
            let material = try EndorserConnectionTests.Material()
            defer { try? FileManager.default.removeItem(at: material.directory) }
            endorser = EndorserConnection(endpoint: NodeAddress(host: "127.0.0.1", port: try ChildProcess.freePort()), tls: material.client)
        }
        defer { endorser.close() }
        await #expect(throws: (any Error).self) { _ = try await endorser.processProposal(proposal, timeout: .seconds(10)) }
    }

    struct Down: Error {}
}
