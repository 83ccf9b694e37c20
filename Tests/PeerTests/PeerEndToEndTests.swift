import RPCTransport
import Foundation
import Identity
import LedgerWire
import NetworkConfig
import Testing
import TestSupport
@testable import Committer
@testable import GatewayService
@testable import NodeClients
@testable import PeerDaemon
@testable import PhiService

@testable import Endorser

/// A chaincode developer's path with real processes and mutual TLS: generate crypto material,
/// install the example plugin with `medrex chaincode install`, start an endorser-only
/// `medrex peer start`, see a query of the installed but undefined chaincode refused, get a signed
/// `_lifecycle` answer, and stop the peer with SIGTERM. (The defined path: PipelineEndToEndTests.)
@Suite(.serialized) struct PeerEndToEndTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func installStartQueryAndStop() async throws {
        let medrex = ChildProcess.medrex
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-peer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let network = try NetworkDescription.load(file: Self.repository.appendingPathComponent("network-config/network.yaml").path)
        let crypto = work.appendingPathComponent("crypto")
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: crypto, force: false)

        // The example plugin, built in debug by the package's own build.
        let library = try await ExamplePlugin.assetTransfer()

        // An endorsing peer of HospitalA on free ports, its file rendered from network.yaml
        // (medrex network render), beside the channel's genesis block; no orderer runs.
        let port = try ChildProcess.freePort()
        let operationsPort = try ChildProcess.freePort()
        let networkFile = work.appendingPathComponent("network.yaml")
        try String(contentsOf: Self.repository.appendingPathComponent("network-config/network.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "{ name: peer0, port: 7051, operationsPort: 9443 }", with: "{ name: peer0, port: \(port), operationsPort: \(operationsPort) }")
            .write(to: networkFile, atomically: true, encoding: .utf8)
        let host = work.appendingPathComponent("nodes/127.0.0.1")
        let render = try await ChildProcess.run(medrex, [
            "network", "render", "--config", networkFile.path, "--output", work.appendingPathComponent("nodes").path, "--channel", "healthchannel",
            "--crypto", crypto.path, "--chaincode", "asset-transfer:1.0", "--peer-role", "endorser"])
        try #require(render.status == 0, "\(render.output)")
        let config = host.appendingPathComponent("peer0-HospitalA.yaml")
        let data = host.appendingPathComponent("data/peer0-HospitalA")
        let install = try await ChildProcess.run(medrex, ["chaincode", "install", library.path, "--data", data.path, "--name", "asset-transfer"])
        #expect(install.status == 0, "\(install.output)")
        #expect(install.output.contains("listByOwner"))

        let genesis = host.appendingPathComponent("healthchannel.block")
        let create = try await ChildProcess.run(medrex, [
            "channel", "create", "--config", networkFile.path, "--channel", "healthchannel", "--crypto", crypto.path, "--output", genesis.path])
        try #require(create.status == 0, "\(create.output)")

        let peer = Process()
        peer.executableURL = medrex
        peer.arguments = ["peer", "start", "--config", config.path]
        let peerOutput = Pipe()
        peer.standardOutput = peerOutput
        peer.standardError = peerOutput
        try peer.run()
        defer { if peer.isRunning { kill(peer.processIdentifier, SIGKILL); peer.waitUntilExit() } }

        let query = ["chaincode", "query", "--crypto", crypto.path, "--org", "HospitalB", "--msp-id", "HospitalBMSP", "--user", "lab-tech-lee",
                     "--peer-org", "HospitalA", "--peer", "127.0.0.1:\(port)", "--channel", "healthchannel", "--name", "asset-transfer"]
        // Installed, but the channel has no committed definition (this peer has no orderer to
        // commit one): the peer refuses clearly.
        var answer = try await ChildProcess.run(medrex, query + ["listByOwner", "alice"])
        let deadline = ContinuousClock.now + .seconds(30)
        while !answer.output.contains("404"), ContinuousClock.now < deadline, peer.isRunning {
            try await Task.sleep(for: .milliseconds(200))
            answer = try await ChildProcess.run(medrex, query + ["listByOwner", "alice"])
        }
        #expect(answer.status != 0)
        #expect(answer.output.contains("chaincode 'asset-transfer' is installed but has no committed definition on channel 'healthchannel'"), "\(answer.output)")

        // `_lifecycle` always runs: a signed response over mutual TLS, verified with the peer's certificate.
        let member = CryptoMaterialLayout(root: crypto, organization: "HospitalB").member(kind: .user, name: "lab-tech-lee")
        let signer = try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: "HospitalBMSP")
        let tls = MutualTLS(certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey,
                            trustedCAs: [CryptoMaterialLayout(root: crypto, organization: "HospitalA").tlsCACertificate])
        let proposal = try ProposalFactory.make(
            channel: "healthchannel", chaincode: "_lifecycle", arguments: ["approvals", "asset-transfer", "1.0", "1"], signer: signer, timestamp: Date())
        let response = try await EndorserClient.processProposal(proposal, host: "127.0.0.1", port: port, tls: tls)
        #expect(response.response.status == 200, "\(response.response.message)")
        #expect(response.response.payload.isEmpty)
        let peerMSP = try MembershipServiceProvider(CryptoMaterialLoader.loadMSP(CryptoMaterialLayout(root: crypto, organization: "HospitalA").organizationMSP, mspID: "HospitalAMSP"))
        let endorser = try MembershipRegistry([peerMSP]).verify(
            signature: response.endorsement.signature, over: response.payload + response.endorsement.endorser, by: response.endorsement.endorser, at: Date())
        #expect(endorser.role == .peer)

        // A client whose TLS certificate no trusted CA signed is refused at the handshake.
        let elsewhere = work.appendingPathComponent("other-network")
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: elsewhere, force: false)
        let outsider = CryptoMaterialLayout(root: elsewhere, organization: "HospitalB").member(kind: .user, name: "lab-tech-lee")
        await #expect(throws: (any Error).self) {
            _ = try await EndorserClient.processProposal(proposal, host: "127.0.0.1", port: port, tls: MutualTLS(
                certificate: outsider.tlsCertificate, privateKey: outsider.tlsPrivateKey, trustedCAs: tls.trustedCAs))
        }

        let metrics = try await HTTP.get("http://127.0.0.1:\(operationsPort)/metrics")
        #expect(metrics.body.contains("medrex_endorser_proposals_total{status=\"200\"}"), "\(metrics.body)")
        #expect(metrics.body.contains("medrex_endorser_proposals_total{status=\"404\"}"), "\(metrics.body)")
        #expect(metrics.body.contains("medrex_ledger_height_blocks{channel=\"healthchannel\"} 1.0"), "\(metrics.body)")
        #expect(try await HTTP.get("http://127.0.0.1:\(operationsPort)/healthz").status == 200)

        kill(peer.processIdentifier, SIGTERM)
        peer.waitUntilExit()
        #expect(peer.terminationStatus == 0, "\(String(decoding: peerOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
    }
}
