import ArgumentParser
import Foundation
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig
import Orderer
import SwiftProtobuf
import RPCTransport
import NodeClients

/// `medrex bench order`: envelopes/s through the ordering service's Broadcast and back out of
/// Deliver, over gRPC with mutual TLS. Envelopes are built and signed before timing (a client's work).
///
/// - `--consensus solo` (default): one orderer in this process.
/// - `--consensus etcd --etcd-endpoints A,B,C`: three `medrex orderer start` processes over the given
///   etcd cluster; clients spread over all three (followers forward to the leader). Afterwards the
///   leader is SIGKILLed and the time until the next block is measured.
struct OrderBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "order",
        abstract: "Measure envelopes/s through the ordering service (Broadcast → block cutting → Deliver) over mutual TLS; solo, or 3 orderers over etcd with a leader kill."
    )

    @Option(help: "Envelopes in all.") var envelopes = 20_000
    @Option(help: "Broadcast streams (clients).") var clients = 4
    @Option(help: "Envelopes per block.") var blockSize = 500
    @Option(help: "Bytes of the value each envelope writes.") var valueBytes = 100
    @Option(help: "solo, or etcd (needs --etcd-endpoints).") var consensus = "solo"
    @Option(help: "The etcd members' client addresses, comma-separated (host:port,...), for --consensus etcd.") var etcdEndpoints = ""
    @Option(help: "Orderer processes for --consensus etcd.") var orderers = 3
    @Option(help: "For --consensus etcd: a directory with ca.pem (the CA of the etcd members' certificates), client.pem and client-key.pem (a client certificate etcd accepts).")
    var etcdTLS = ""

    func validate() throws {
        guard ["solo", "etcd"].contains(consensus) else { throw ValidationError("--consensus must be solo or etcd, not '\(consensus)'") }
        if consensus == "etcd" {
            guard !etcdEndpoints.isEmpty else { throw ValidationError("--consensus etcd needs --etcd-endpoints host:port,... (scripts/bench-etcd-ordering.sh starts a cluster)") }
            guard (1...9).contains(orderers) else { throw ValidationError("--orderers must be 1...9") }
            guard !etcdTLS.isEmpty else { throw ValidationError("--consensus etcd needs --etcd-tls DIR: etcd is reached over mutual TLS only (scripts/bench-etcd-ordering.sh makes one)") }
        }
        guard envelopes >= clients, clients >= 1, blockSize >= 1, valueBytes >= 0 else {
            throw ValidationError("need envelopes >= clients >= 1, block-size >= 1, value-bytes >= 0")
        }
    }

    func run() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-bench-order-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let ordererCount = consensus == "etcd" ? orderers : 1
        let basePort = 17_000 + Int.random(in: 0..<10_000) / 10 * 10
        let ordererLines = (0..<ordererCount).map { "{ name: orderer\($0), port: \(basePort + $0), operationsPort: \(basePort + 50 + $0) }" }
        let network = try NetworkDescription.parse(yaml: """
            name: bench
            organizations:
              - name: Ord
                mspID: OrdMSP
                domain: ord.bench
                orderers: [\(ordererLines.joined(separator: ", "))]
              - name: Org
                mspID: OrgMSP
                domain: org.bench
                peers: [{ name: peer0, port: \(basePort + 100), operationsPort: \(basePort + 101) }]
                users: [{ name: client }]
            channels:
              - name: bench
                organizations: [Org]
                endorsementPolicy: "'OrgMSP.peer'"
                consensus: \(consensus)
                batch: { maxMessageCount: \(blockSize), timeout: 250ms }
            """, file: "bench")
        let crypto = work.appendingPathComponent("crypto")
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: crypto, force: false)
        let org = CryptoMaterialLayout(root: crypto, organization: "Org")
        let genesisBlock = try ChannelGenesis.makeBlock(network: network, channel: "bench", crypto: crypto, timestamp: Date())
        let genesis = work.appendingPathComponent("bench.block")
        try genesisBlock.serializedData().write(to: genesis)
        let member = org.member(kind: .user, name: "client")
        let signer = try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: "OrgMSP")
        let clientTLS = MutualTLS(
            certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey, trustedCAs: [CryptoMaterialLayout(root: crypto, organization: "Ord").tlsCACertificate])
        let batches = try makeEnvelopes(signer: signer)
        // Blocks are read as the organization's peer: a plain client is not a reader of the channel.
        let reader = try CryptoMaterialLoader.loadSigningIdentity(org.member(kind: .peer, name: "peer0").msp, mspID: "OrgMSP")

        if consensus == "solo" {
            let ordererFolder = CryptoMaterialLayout(root: crypto, organization: "Ord").member(kind: .orderer, name: "orderer0")
            let configuration = OrdererConfiguration(
                mspID: "OrdMSP", msp: ordererFolder.msp.directory, listenHost: "127.0.0.1", listenPort: basePort,
                tlsCertificate: ordererFolder.tlsCertificate, tlsPrivateKey: ordererFolder.tlsPrivateKey, tlsClientRootCAs: [org.tlsCACertificate],
                data: work.appendingPathComponent("orderer"), channels: [genesis])
            let node = try OrdererNode(configuration: configuration)
            let serving = Task { try await node.run() }
            defer { node.beginShutdown() }
            try await Task.sleep(for: .milliseconds(300))
            let client = OrdererClient(host: "127.0.0.1", port: basePort, tls: clientTLS)
            try await measure(batches, through: [client], deliverFrom: client, reader: reader, label: "solo orderer")
            node.beginShutdown()
            try await serving.value
            return
        }

        let cluster = try OrdererProcessCluster(
            work: work, network: network, crypto: crypto, genesis: genesis, genesisHash: genesisBlock.header.hash, channel: "bench",
            ports: (0..<ordererCount).map { basePort + $0 },
            etcdEndpoints: etcdEndpoints.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) },
            etcdTLS: MutualTLS(
                certificate: URL(fileURLWithPath: etcdTLS).appendingPathComponent("client.pem"),
                privateKey: URL(fileURLWithPath: etcdTLS).appendingPathComponent("client-key.pem"),
                trustedCAs: [URL(fileURLWithPath: etcdTLS).appendingPathComponent("ca.pem")]))
        defer { cluster.stop() }
        try cluster.start()
        let clients = cluster.ports.map { OrdererClient(host: "127.0.0.1", port: $0, tls: clientTLS) }
        try await cluster.waitUntilEveryOrdererAcknowledges(clients: clients, signer: signer, probe: { try self.envelope(signer: signer, key: "probe-\($0)") })
        try await measure(batches, through: clients, deliverFrom: clients[0], reader: reader, label: "etcd ordering, \(ordererCount) orderer processes")
        try await cluster.measureLeaderFailover(clients: clients, signer: signer, probe: { try self.envelope(signer: signer, key: "failover-\($0)") })
        let stopped = cluster.stop()
        print("  orderers stopped with SIGTERM: exit statuses \(stopped) (the SIGKILLed leader reports 9)")
    }

    private func makeEnvelopes(signer: SigningIdentity) throws -> [[Common_Envelope]] {
        let perClient = envelopes / clients
        return try (0..<clients).map { stream in
            try (0..<perClient).map { index in try envelope(signer: signer, key: "key-\(stream)-\(index)") }
        }
    }

    private func envelope(signer: SigningIdentity, key: String) throws -> Common_Envelope {
        var builder = EndorserTransactionBuilder(
            channelID: "bench", chaincodeName: "cc", creator: Data(signer.serialized),
            nonce: Data((0..<24).map { _ in UInt8.random(in: 0...255) }), timestamp: Date())
        var set = Kvrwset_KVRWSet()
        var write = Kvrwset_KVWrite()
        write.key = key
        write.value = Data(repeating: 1, count: valueBytes)
        set.writes = [write]
        builder.readWriteSets = [("cc", set)]
        return try builder.envelope { Data(try signer.sign($0)) }
    }

    /// Broadcasts every batch on a stream of its own (stream i to orderer i mod count), and
    /// follows `deliverFrom`'s blocks until every acknowledged envelope came back.
    private func measure(
        _ batches: [[Common_Envelope]], through orderers: [OrdererClient], deliverFrom: OrdererClient, reader: SigningIdentity, label: String
    ) async throws {
        let total = batches.reduce(0) { $0 + $1.count }
        let serialized = try batches.map { try $0.map { try $0.serializedData() } }
        let start = ContinuousClock.now
        let acknowledged = try await withThrowingTaskGroup(of: [Data].self) { group in
            for (index, batch) in batches.enumerated() {
                let client = orderers[index % orderers.count]
                let bytes = serialized[index]
                group.addTask { zip(bytes, try await client.broadcast(batch)).filter { $0.1.status == .success }.map(\.0) }
            }
            return try await group.reduce(into: Set<Data>()) { $0.formUnion($1) }
        }
        let broadcastDone = ContinuousClock.now
        guard !acknowledged.isEmpty else { throw ValidationError("\(label): no envelope was acknowledged") }
        let seen = DeliveredEnvelopes(expecting: acknowledged)
        do {
            let status = try await deliverFrom.follow(channel: "bench", start: 1, signer: reader) { block in
                if await seen.take(block) { throw AllDelivered() }
            }
            throw ValidationError("\(label): Deliver ended with status \(status) before every acknowledged envelope came back")
        } catch is AllDelivered {}
        let end = ContinuousClock.now
        let blocks = await seen.blocks
        print("\(label): \(total) envelopes (\(valueBytes)-byte writes), \(batches.count) broadcast streams over \(orderers.count) orderer(s), \(blockSize) per block, mutual TLS")
        print(String(format: "  broadcast acknowledged (block durably ordered): %d of %d in %.2f s = %.0f envelopes/s", acknowledged.count, total, (broadcastDone - start).seconds, Double(acknowledged.count) / (broadcastDone - start).seconds))
        print(String(format: "  broadcast → deliver of the %d blocks holding them: %.2f s = %.0f envelopes/s", blocks, (end - start).seconds, Double(acknowledged.count) / (end - start).seconds))
    }
}

/// Ends a Deliver stream once every envelope measured came back.
private struct AllDelivered: Error {}

/// The acknowledged envelopes not yet seen in a delivered block.
private actor DeliveredEnvelopes {
    private var missing: Set<Data>
    /// Blocks that held at least one of them.
    private(set) var blocks = 0

    init(expecting envelopes: Set<Data>) { missing = envelopes }

    /// Marks the block's envelopes seen; true once none is missing.
    func take(_ block: Common_Block) -> Bool {
        let before = missing.count
        for envelope in block.data.data { missing.remove(envelope) }
        if missing.count < before { blocks += 1 }
        return missing.isEmpty
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
