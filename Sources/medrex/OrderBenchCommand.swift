import ArgumentParser
import Foundation
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig
import Orderer
import SwiftProtobuf
import RPCTransport

/// `medrex bench order`: envelopes/s through a solo orderer's Broadcast and back out of Deliver,
/// over gRPC with mutual TLS, with the orderer in this process. Envelopes are built and signed
/// before timing (a client's work).
struct OrderBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "order",
        abstract: "Measure envelopes/s through a solo orderer (Broadcast → block cutting → Deliver) over mutual TLS."
    )

    @Option(help: "Envelopes in all.") var envelopes = 20_000
    @Option(help: "Broadcast streams (clients).") var clients = 4
    @Option(help: "Envelopes per block.") var blockSize = 500
    @Option(help: "Bytes of the value each envelope writes.") var valueBytes = 100

    func run() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-bench-order-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let network = try NetworkDescription.parse(yaml: """
            name: bench
            organizations:
              - name: Ord
                mspID: OrdMSP
                domain: ord.bench
                orderers: [{ name: orderer0, port: 17050, operationsPort: 19440 }]
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
                batch: { maxMessageCount: \(blockSize), timeout: 250ms }
            """, file: "bench")
        let crypto = work.appendingPathComponent("crypto")
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: crypto, force: false)
        let ordererFolder = CryptoMaterialLayout(root: crypto, organization: "Ord").member(kind: .orderer, name: "orderer0")
        let org = CryptoMaterialLayout(root: crypto, organization: "Org")
        let port = 17_000 + Int.random(in: 0..<10_000)
        let genesis = work.appendingPathComponent("bench.block")
        try ChannelGenesis.makeBlock(network: network, channel: "bench", crypto: crypto, timestamp: Date()).serializedData().write(to: genesis)
        let configuration = OrdererConfiguration(
            mspID: "OrdMSP", msp: ordererFolder.msp.directory, listenHost: "127.0.0.1", listenPort: port,
            tlsCertificate: ordererFolder.tlsCertificate, tlsPrivateKey: ordererFolder.tlsPrivateKey, tlsClientRootCAs: [org.tlsCACertificate],
            data: work.appendingPathComponent("orderer"), channels: [genesis])
        let node = try OrdererNode(configuration: configuration)
        let serving = Task { try await node.run() }
        defer { node.beginShutdown() }
        let member = org.member(kind: .user, name: "client")
        let signer = try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: "OrgMSP")
        let client = OrdererClient(host: "127.0.0.1", port: port, tls: MutualTLS(
            certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey, trustedCAs: [CryptoMaterialLayout(root: crypto, organization: "Ord").tlsCACertificate]))
        let value = Data(repeating: 1, count: valueBytes)
        let perClient = envelopes / clients
        let batches = try (0..<clients).map { stream in
            try (0..<perClient).map { index in
                var builder = EndorserTransactionBuilder(
                    channelID: "bench", chaincodeName: "cc", creator: Data(signer.serialized),
                    nonce: Data(withUnsafeBytes(of: UInt64(stream * perClient + index).bigEndian) { Array($0) }), timestamp: Date())
                var set = Kvrwset_KVRWSet()
                var write = Kvrwset_KVWrite()
                write.key = "key-\(stream)-\(index)"
                write.value = value
                set.writes = [write]
                builder.readWriteSets = [("cc", set)]
                return try builder.envelope { Data(try signer.sign($0)) }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let total = perClient * clients
        let start = ContinuousClock.now
        let acknowledged = try await withThrowingTaskGroup(of: Int.self) { group in
            for batch in batches { group.addTask { try await client.broadcast(batch).filter { $0.status == .success }.count } }
            return try await group.reduce(0, +)
        }
        let broadcastDone = ContinuousClock.now
        var delivered = 0
        var number: UInt64 = 1  // block 0 is the genesis block
        while delivered < total {
            let (blocks, status) = try await client.deliver(channel: "bench", start: number, stop: number, signer: signer)
            guard status == .success, let block = blocks.first else { throw ValidationError("deliver of block \(number) failed: \(status)") }
            delivered += block.data.data.count
            number += 1
        }
        let end = ContinuousClock.now
        func seconds(_ duration: Duration) -> Double { Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }
        print("solo orderer: \(total) envelopes (\(valueBytes)-byte writes), \(clients) broadcast streams, \(blockSize) per block, mutual TLS")
        print(String(format: "  broadcast acknowledged (block stored): %d of %d in %.2f s = %.0f envelopes/s", acknowledged, total, seconds(broadcastDone - start), Double(acknowledged) / seconds(broadcastDone - start)))
        print(String(format: "  broadcast → deliver of all %d blocks:  %.2f s = %.0f envelopes/s", number - 1, seconds(end - start), Double(delivered) / seconds(end - start)))
        node.beginShutdown()
        try await serving.value
    }
}
