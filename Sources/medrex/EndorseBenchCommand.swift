import RPCTransport
import ArgumentParser
import BuiltInChaincodes
import Chaincode
import Endorser
import Foundation
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig
import SwiftProtobuf
import Synchronization
import WorldState
import PeerDaemon
import Committer
import GatewayService
import NodeClients

/// `medrex bench endorse`: proposals/s of the endorser for a simple put, in-process and over
/// gRPC with mutual TLS (unary calls, and the endorsement stream), against a RocksDB ledger. Proposals are built and signed before timing
/// (a client's work), so the figures are the endorser's: checks, simulation, signing, and for
/// the second figure the gRPC/TLS round trips on the same 2 cores.
struct EndorseBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "endorse",
        abstract: "Measure endorser proposals/s for a simple put (in-process and over gRPC with mutual TLS)."
    )

    @Option(help: "Proposals per measurement.") var proposals = 20_000
    @Option(help: "Concurrent in-flight proposals.") var concurrency = 64

    func run() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-bench-endorse-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let network = try NetworkDescription.parse(yaml: """
            name: bench
            organizations:
              - name: Org
                mspID: OrgMSP
                domain: org.bench
                peers: [{ name: peer0, port: 17051, operationsPort: 19443 }]
                users: [{ name: client }]
            channels:
              - name: bench
                organizations: [Org]
                endorsementPolicy: "'OrgMSP.peer'"
                consensus: solo
            """, file: "bench")
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: work.appendingPathComponent("crypto"), force: false)
        let layout = CryptoMaterialLayout(root: work.appendingPathComponent("crypto"), organization: "Org")
        let peerFolder = layout.member(kind: .peer, name: "peer0")
        let client = layout.member(kind: .user, name: "client")
        let port = 17_000 + Int.random(in: 0..<10_000)
        let genesis = work.appendingPathComponent("bench.block")
        try ChannelGenesis.makeBlock(network: network, channel: "bench", crypto: work.appendingPathComponent("crypto"), timestamp: Date())
            .serializedData().write(to: genesis)
        let configuration = PeerConfiguration(
            mspID: "OrgMSP", msp: peerFolder.msp.directory, listenHost: "127.0.0.1", listenPort: port,
            tlsCertificate: peerFolder.tlsCertificate, tlsPrivateKey: peerFolder.tlsPrivateKey, tlsClientRootCAs: [layout.tlsCACertificate],
            data: work.appendingPathComponent("data"), roles: [.endorser],
            channels: [.init(genesis: genesis, chaincodes: [("kv", "1.0")])])
        let node = try PeerNode(configuration: configuration, builtInChaincodes: BuiltInChaincodes.all)
        // The channel's definition of kv. This bench has no orderer to commit `_lifecycle`
        // transactions through, so the definition goes straight into its throwaway state.
        guard let state = node.endorser.channels["bench"]?.state else { throw ValidationError("the bench peer did not join channel bench") }
        var definition = StateUpdateBatch()
        definition.put(
            namespace: ChaincodeDefinition.namespace, key: ChaincodeDefinition.definitionKey("kv"),
            value: ChaincodeDefinition(name: "kv", version: "1.0", sequence: 1, endorsementPolicy: "").canonicalJSON,
            version: StateVersion(blockNumber: 1, transactionNumber: 0))
        try state.apply(definition, blockNumber: 1)
        let signer = try CryptoMaterialLoader.loadSigningIdentity(client.msp, mspID: "OrgMSP")
        let batch = try (0..<proposals).map { index in
            try ProposalFactory.make(channel: "bench", chaincode: "kv", arguments: ["put", "key-\(index)", String(repeating: "v", count: 100)], signer: signer, timestamp: Date())
        }
        print("endorser: \(proposals) proposals of a 100-byte put, \(concurrency) in flight, RocksDB state")

        let endorser = node.endorser
        let inProcess = try await measure(batch) { proposal in endorser.processProposal(proposal) }
        print(String(format: "  in-process:          %.0f proposals/s", inProcess))

        let tls = MutualTLS(certificate: client.tlsCertificate, privateKey: client.tlsPrivateKey, trustedCAs: [layout.tlsCACertificate])
        let serving = Task { try await node.run() }
        try await Task.sleep(for: .milliseconds(300))
        let overGRPC = try await EndorserClient.withConnection(host: "127.0.0.1", port: port, tls: tls) { endorser in
            try await measure(batch) { proposal in try await endorser.processProposal(proposal) }
        }
        print(String(format: "  gRPC + mutual TLS:   %.0f proposals/s (one connection, unary calls)", overGRPC))
        let connection = EndorserConnection(endpoint: NodeAddress(host: "127.0.0.1", port: port), tls: tls)
        let streamed = try await measure(batch) { proposal in try await connection.processProposal(proposal) }
        connection.close()
        print(String(format: "  gRPC + mutual TLS:   %.0f proposals/s (one stream, as a gateway sends to other peers)", streamed))
        node.beginShutdown()
        try await serving.value
    }

    /// Runs every proposal with `concurrency` in flight; returns proposals/s; checks each answer.
    private func measure(_ batch: [Protos_SignedProposal], _ endorse: @escaping @Sendable (Protos_SignedProposal) async throws -> Protos_ProposalResponse) async throws -> Double {
        try await Self.measure(batch, concurrency: concurrency, endorse)
    }

    private static func measure(_ batch: [Protos_SignedProposal], concurrency: Int, _ endorse: @escaping @Sendable (Protos_SignedProposal) async throws -> Protos_ProposalResponse) async throws -> Double {
        let next = ProposalCursor()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = next.take()
                        guard index < batch.count else { return }
                        let response = try await endorse(batch[index])
                        guard response.response.status == 200 else {
                            throw ValidationError("proposal \(index) refused: \(response.response.status) \(response.response.message)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        return Double(batch.count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

/// Hands out proposal indexes to concurrent workers.
final class ProposalCursor: Sendable {
    private let position = Atomic<Int>(0)
    func take() -> Int { position.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// The benchmark's chaincode: `put key value`.
