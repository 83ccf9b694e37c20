import BlockIntegrity
import Foundation
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig
import RPCTransport
import SwiftProtobuf
import Testing
import TestSupport
import Committer
import GatewayService
import NodeClients
import PeerDaemon
import PhiService

@testable import Orderer

/// `medrex orderer start` as a real process over mutual TLS: several clients broadcast, blocks
/// come back through Deliver and verify as a chain; bad input is refused and the orderer keeps
/// serving; SIGTERM stops it cleanly.
@Suite(.serialized) struct SoloOrdererProcessTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func broadcastDeliverAndRefusals() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-orderer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let network = try NetworkDescription.load(file: Self.repository.appendingPathComponent("network-config/network.yaml").path)
        let crypto = work.appendingPathComponent("crypto")
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: crypto, force: false)
        let port = try ChildProcess.freePort()
        let operationsPort = try ChildProcess.freePort()
        // The sample network with a solo channel on free ports, its genesis block from `medrex
        // channel create` and the orderer's file from `medrex network render`.
        let sample = try String(contentsOf: Self.repository.appendingPathComponent("network-config/network.yaml"), encoding: .utf8)
        let soloNetwork = work.appendingPathComponent("network.yaml")
        try sample.replacingOccurrences(of: "consensus: etcd", with: "consensus: solo")
            .replacingOccurrences(of: "{ name: orderer0, port: 7050, operationsPort: 9440 }", with: "{ name: orderer0, port: \(port), operationsPort: \(operationsPort) }")
            .replacingOccurrences(of: "maxMessageCount: 500", with: "maxMessageCount: 50")
            .replacingOccurrences(of: "timeout: 250ms", with: "timeout: 100ms")
            .replacingOccurrences(of: "absoluteMaxBytes: 10485760", with: "absoluteMaxBytes: 65536")
            .replacingOccurrences(of: "preferredMaxBytes: 2097152", with: "preferredMaxBytes: 32768")
            .write(to: soloNetwork, atomically: true, encoding: .utf8)
        let nodes = work.appendingPathComponent("nodes")
        let render = try await ChildProcess.run(ChildProcess.medrex, [
            "network", "render", "--config", soloNetwork.path, "--channel", "healthchannel", "--crypto", crypto.path, "--output", nodes.path])
        try #require(render.status == 0, "\(render.output)")
        let host = nodes.appendingPathComponent("127.0.0.1")
        let genesis = host.appendingPathComponent("healthchannel.block")
        let create = try await ChildProcess.run(ChildProcess.medrex, ["channel", "create", "--config", soloNetwork.path, "--channel", "healthchannel", "--crypto", crypto.path, "--output", genesis.path])
        try #require(create.status == 0, "\(create.output)")
        let config = host.appendingPathComponent("orderer0.yaml")
        let orderer = Process()
        orderer.executableURL = ChildProcess.medrex
        orderer.arguments = ["orderer", "start", "--config", config.path]
        let output = Pipe()
        orderer.standardOutput = output
        orderer.standardError = output
        try orderer.run()
        defer { if orderer.isRunning { kill(orderer.processIdentifier, SIGKILL); orderer.waitUntilExit() } }

        func client(_ organization: String, _ user: String) throws -> (OrdererClient, SigningIdentity) {
            let member = CryptoMaterialLayout(root: crypto, organization: organization).member(kind: .user, name: user)
            let tls = MutualTLS(certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey,
                                trustedCAs: [CryptoMaterialLayout(root: crypto, organization: "OrdererOrg").tlsCACertificate])
            let signer = try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: organization == "HospitalA" ? "HospitalAMSP" : "HospitalBMSP")
            return (OrdererClient(host: "127.0.0.1", port: port, tls: tls), signer)
        }
        let clients = [try client("HospitalA", "dr-carter"), try client("HospitalA", "nurse-ng"), try client("HospitalB", "lab-tech-lee"), try client("HospitalB", "auditor-ames")]
        func envelope(_ signer: SigningIdentity, _ index: Int, channel: String = "healthchannel", valueBytes: Int = 100) throws -> Common_Envelope {
            var builder = EndorserTransactionBuilder(
                channelID: channel, chaincodeName: "cc", creator: Data(signer.serialized),
                nonce: Data((0..<24).map { _ in UInt8.random(in: 0...255) }), timestamp: Date())
            var set = Kvrwset_KVRWSet()
            var write = Kvrwset_KVWrite()
            write.key = "k\(index)"
            write.value = Data(repeating: 7, count: valueBytes)
            set.writes = [write]
            builder.readWriteSets = [("cc", set)]
            return try builder.envelope { Data(try signer.sign($0)) }
        }

        // Wait until the orderer answers.
        let deadline = ContinuousClock.now + .seconds(30)
        var ready = false
        while !ready, ContinuousClock.now < deadline, orderer.isRunning {
            ready = (try? await clients[0].0.broadcast([try envelope(clients[0].1, -1)]))?.first?.status == .success
            if !ready { try await Task.sleep(for: .milliseconds(200)) }
        }
        try #require(ready, "orderer did not come up")

        let perClient = 250
        let batches = try clients.map { client, signer in try (0..<perClient).map { try envelope(signer, $0) } }
        let start = ContinuousClock.now
        let answers = try await withThrowingTaskGroup(of: [Orderer_BroadcastResponse].self) { group in
            for (index, batch) in batches.enumerated() { group.addTask { try await clients[index].0.broadcast(batch) } }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let elapsed = ContinuousClock.now - start
        #expect(answers.count == clients.count * perClient)
        #expect(answers.allSatisfy { $0.status == .success })
        print("solo orderer: \(answers.count) envelopes from \(clients.count) clients acknowledged in \(elapsed)")

        var height: UInt64 = 1
        // Full blocks go to the channel's block readers (an auditor here), not to clinicians.
        let (refused, refusedStatus) = try await clients[0].0.deliver(channel: "healthchannel", start: 0, stop: 0, signer: clients[0].1)
        #expect(refusedStatus == .forbidden && refused.isEmpty)
        // Block 2^64-1 can never exist: NOT_FOUND at once (this seek used to trap the orderer on `number + 1`).
        let (last, lastStatus) = try await clients[3].0.deliver(channel: "healthchannel", start: UInt64.max, stop: UInt64.max, signer: clients[3].1)
        #expect(lastStatus == .notFound && last.isEmpty)
        let (first, status) = try await clients[3].0.deliver(channel: "healthchannel", start: 0, stop: 0, signer: clients[3].1)
        #expect(status == .success)
        #expect(first.first?.header.hash == (try Common_Block(serializedBytes: try Data(contentsOf: genesis))).header.hash, "block 0 is the genesis block")
        // Find the current height by asking for blocks until the chain covers every envelope.
        let expected = Set(try batches.flatMap { try $0.map { try $0.serializedData() } })
        var seen: [Data] = []
        var blocks: [Common_Block] = []
        while Set(seen).isSuperset(of: expected) == false {
            let (next, nextStatus) = try await clients[3].0.deliver(channel: "healthchannel", start: height, stop: height, signer: clients[3].1)
            #expect(nextStatus == .success)
            guard let block = next.first else { break }
            blocks.append(block)
            seen += block.data.data
            height += 1
        }
        let ordererMSP = try MembershipServiceProvider(CryptoMaterialLoader.loadMSP(
            CryptoMaterialLayout(root: crypto, organization: "OrdererOrg").organizationMSP, mspID: "OrdererMSP"))
        let verifier = BlockVerifier(membership: MembershipRegistry([ordererMSP]), blockValidationPolicy: try EndorsementPolicy.parse("'OrdererMSP.orderer'"))
        var previous: [UInt8] = try #require(first.first).header.hash
        for block in blocks {
            _ = try verifier.verify(block, expectedNumber: block.header.number, previousHeaderHash: previous, at: Date())
            previous = block.header.hash
        }
        #expect(Set(seen).isSuperset(of: expected))
        #expect(seen.count == expected.count + 1, "every envelope exactly once (plus the readiness probe)")

        // Bad input gets its status; the orderer keeps serving.
        let (badClient, signer) = clients[0]
        var unsigned = try envelope(signer, 1)
        unsigned.signature = Data()
        var garbage = Common_Envelope()
        garbage.payload = Data([0xff, 0xfe])
        let outsider = try TestPKI(mspID: "HospitalAMSP", domain: "outsider.test").identity("mallory")
        let refusals = try await badClient.broadcast([
            unsigned, garbage, try envelope(signer, 2, channel: "nochannel"), try envelope(signer, 3, valueBytes: 70_000), try envelope(outsider, 4),
            try envelope(signer, 5),
        ])
        #expect(refusals.map(\.status) == [.forbidden, .badRequest, .notFound, .requestEntityTooLarge, .forbidden, .success])
        let (_, forbiddenDeliver) = try await badClient.deliver(channel: "healthchannel", start: 0, stop: 0, signer: outsider)
        #expect(forbiddenDeliver == .forbidden)

        // The operations endpoint reports health and the broadcast counts.
        let health = try await HTTP.get("http://127.0.0.1:\(operationsPort)/healthz")
        #expect(health.status == 200)
        #expect(health.body.contains("\"status\":\"OK\""))
        let metrics = try await HTTP.get("http://127.0.0.1:\(operationsPort)/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("medrex_orderer_broadcast_envelopes_total{status=\"success\"} 1002"), "\(metrics.body)")
        #expect(metrics.body.contains("medrex_orderer_broadcast_envelopes_total{status=\"forbidden\"} 2"))
        #expect(metrics.body.contains("medrex_ledger_height_blocks{channel=\"healthchannel\"} \(blocks.count + 2).0"), "\(metrics.body)")
        #expect(metrics.body.contains("medrex_orderer_blocks_total{channel=\"healthchannel\"} \(blocks.count + 1)"), "\(metrics.body)")
        #expect(try await HTTP.get("http://127.0.0.1:\(operationsPort)/nothing").status == 404)

        kill(orderer.processIdentifier, SIGTERM)
        orderer.waitUntilExit()
        #expect(orderer.terminationStatus == 0, "\(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
    }
}
