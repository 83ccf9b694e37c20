import Foundation
import LedgerCore
import LedgerWire
import NetworkConfig
import SwiftProtobuf
import Testing
import TestSupport
import WorldState

@testable import Orderer

/// Joining channels from genesis blocks.
@Suite struct OrdererJoinTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func setUp(consensus: String) throws -> (work: URL, configuration: OrdererConfiguration, genesis: Common_Block) {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-join-\(UUID().uuidString)")
        let text = try String(contentsOf: Self.repository.appendingPathComponent("network-config/network.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "consensus: etcd", with: "consensus: \(consensus)")
        let network = try NetworkDescription.parse(yaml: text, file: "network.yaml")
        let crypto = work.appendingPathComponent("crypto")
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: crypto, force: false)
        let genesis = try ChannelGenesis.makeBlock(network: network, channel: "healthchannel", crypto: crypto, timestamp: Date())
        let genesisFile = work.appendingPathComponent("healthchannel.block")
        try genesis.serializedData().write(to: genesisFile)
        let orderer = CryptoMaterialLayout(root: crypto, organization: "OrdererOrg").member(kind: .orderer, name: "orderer0")
        let configuration = OrdererConfiguration(
            mspID: "OrdererMSP", msp: orderer.msp.directory, listenHost: "127.0.0.1", listenPort: 0,
            tlsCertificate: orderer.tlsCertificate, tlsPrivateKey: orderer.tlsPrivateKey, tlsClientRootCAs: [],
            data: work.appendingPathComponent("data"), channels: [genesisFile])
        return (work, configuration, genesis)
    }

    /// An orderer whose signing certificate has expired does not start, and says why.
    @Test func refusesToStartWithAnExpiredSigningCertificate() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-join-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let text = try String(contentsOf: Self.repository.appendingPathComponent("network-config/network.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "certificateValidityDays: 3650", with: "certificateValidityDays: 1")
        let network = try NetworkDescription.parse(yaml: text, file: "network.yaml")
        let crypto = work.appendingPathComponent("crypto")
        // Issued three days ago for one day: expired two days ago.
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-3 * 86_400)).write(to: crypto, force: false)
        let genesisFile = work.appendingPathComponent("devchannel.block")
        try ChannelGenesis.makeBlock(network: network, channel: "devchannel", crypto: crypto, timestamp: Date()).serializedData().write(to: genesisFile)
        let orderer = CryptoMaterialLayout(root: crypto, organization: "OrdererOrg").member(kind: .orderer, name: "orderer0")
        let configuration = OrdererConfiguration(
            mspID: "OrdererMSP", msp: orderer.msp.directory, listenHost: "127.0.0.1", listenPort: 0,
            tlsCertificate: orderer.tlsCertificate, tlsPrivateKey: orderer.tlsPrivateKey, tlsClientRootCAs: [],
            data: work.appendingPathComponent("data"), channels: [genesisFile])
        let error = #expect(throws: ConfigError.self) { _ = try OrdererNode(configuration: configuration) }
        #expect(error?.reason.contains("signing certificate expired") == true, "\(String(describing: error))")
        #expect(error?.file.hasSuffix("signcerts/cert.pem") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: configuration.ledgerDirectory(channel: "devchannel").path), "a ledger was created")
    }

    @Test func storesTheGenesisBlockAsBlockZero() throws {
        let (work, configuration, genesis) = try setUp(consensus: "solo")
        defer { try? FileManager.default.removeItem(at: work) }
        do {
            _ = try OrdererNode(configuration: configuration)
        }
        let directory = configuration.ledgerDirectory(channel: "healthchannel")
        do {
            let database = try RocksDatabase(path: directory.appendingPathComponent("index").path, columnFamilies: BlockStore.columnFamilies)
            let blockStore = try BlockStore(directory: directory.appendingPathComponent("blocks"), database: database, logger: .init(label: "test"))
            #expect(blockStore.height == 1)
            #expect(try blockStore.block(number: 0)?.header.hash == genesis.header.hash)
        }
        // Restarting with the same genesis block is fine; with another one it is refused.
        _ = try OrdererNode(configuration: configuration)
        let other = try setUp(consensus: "solo")
        defer { try? FileManager.default.removeItem(at: other.work) }
        var mixed = configuration
        mixed.channels = other.configuration.channels
        #expect(throws: ConfigError.self) { _ = try OrdererNode(configuration: mixed) }
    }

    /// Consensus types are looked up among those registered; another is refused with their names
    /// and nothing is created for the channel.
    @Test func refusesAConsensusTypeThatIsNotRegistered() throws {
        let (work, configuration, genesis) = try setUp(consensus: "solo")
        defer { try? FileManager.default.removeItem(at: work) }
        // The channel's configuration names a consensus type no orderer here knows.
        var envelope = try Common_Envelope(serializedBytes: genesis.data.data[0])
        var payload = try Common_Payload(serializedBytes: envelope.payload)
        var configEnvelope = try Common_ConfigEnvelope(serializedBytes: payload.data)
        var consensus = Orderer_ConsensusType()
        consensus.type = "raft"
        configEnvelope.config.channelGroup.groups["Orderer"]!.values["ConsensusType"]!.value = try consensus.serializedData()
        payload.data = try configEnvelope.serializedData()
        envelope.payload = try payload.serializedData()
        let raft = Common_Block(number: 0, previousHash: [], envelopes: [try envelope.serializedData()])
        try raft.serializedData().write(to: configuration.channels[0])
        let error = #expect(throws: ConfigError.self) { _ = try OrdererNode(configuration: configuration) }
        #expect(error?.field == "ConsensusType")
        #expect(error?.reason.contains("consensus 'raft' is not available") == true && error?.reason.contains("etcd or solo") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: configuration.ledgerDirectory(channel: "healthchannel").path))
        #expect(OrdererNode.consensusTypes.keys.sorted() == ["etcd", "solo"])
    }

    @Test func refusesAnEtcdChannelWithoutAnEtcdCluster() throws {
        var (work, configuration, _) = try setUp(consensus: "etcd")
        defer { try? FileManager.default.removeItem(at: work) }
        configuration.sourceFile = work.appendingPathComponent("orderer.yaml").path
        do {
            _ = try OrdererNode(configuration: configuration)
            Issue.record("started an etcd channel without etcd endpoints")
        } catch let error as ConfigError {
            #expect(error.file == configuration.sourceFile)
            #expect(error.field == "etcd.endpoints")
            #expect(error.reason.contains("channel 'healthchannel'"))
            #expect(error.reason.contains("consensus etcd"))
        }
    }

    @Test func readsTheEtcdSectionOfOrdererYAML() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-yaml-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let file = work.appendingPathComponent("orderer.yaml")
        let base = """
            mspID: OrdererMSP
            msp: msp
            listen: 127.0.0.1:7050
            tls: { certificate: c.pem, privateKey: k.pem, clientRootCAs: [ca.pem] }
            data: data
            channels: [c.block]

            """
        try (base + "etcd: { endpoints: [127.0.0.1:2379, 127.0.0.1:2479], tls: { rootCAs: [etcd-ca.pem] } }").write(to: file, atomically: true, encoding: .utf8)
        let defaulted = try OrdererConfiguration.load(file: file.path)
        #expect(defaulted.etcd == OrdererConfiguration.EtcdSettings(
            endpoints: ["127.0.0.1:2379", "127.0.0.1:2479"], advertisedHost: "127.0.0.1", advertisedPort: 7050,
            tls: .init(rootCAs: [work.appendingPathComponent("etcd-ca.pem")])))
        try (base + "etcd: { endpoints: [127.0.0.1:2379], tls: { rootCAs: [/ca.pem], certificate: /c.pem, privateKey: /k.pem } }").write(to: file, atomically: true, encoding: .utf8)
        #expect(try OrdererConfiguration.load(file: file.path).etcd?.tls == .init(
            rootCAs: [URL(fileURLWithPath: "/ca.pem")], certificate: URL(fileURLWithPath: "/c.pem"), privateKey: URL(fileURLWithPath: "/k.pem")))
        try (base + "etcd: { endpoints: [127.0.0.1:2379], advertise: orderer0.example:7050, leaseSeconds: 5, tls: { rootCAs: [ca.pem] } }").write(to: file, atomically: true, encoding: .utf8)
        #expect(try OrdererConfiguration.load(file: file.path).etcd?.advertisedEndpoint == "orderer0.example:7050")
        #expect(try OrdererConfiguration.load(file: file.path).etcd?.leaseSeconds == 5)
        try base.write(to: file, atomically: true, encoding: .utf8)
        #expect(try OrdererConfiguration.load(file: file.path).etcd == nil)
        let tls = "tls: { rootCAs: [ca.pem] }"
        for (bad, field) in [
            ("etcd: { endpoints: [], \(tls) }", "etcd.endpoints"), ("etcd: { endpoints: [nohost], \(tls) }", "etcd.endpoints[0]"),
            ("etcd: { endpoint: [a:1], \(tls) }", "etcd.endpoint"), ("etcd: { endpoints: [a:1], leaseSeconds: 1, \(tls) }", "etcd.leaseSeconds"),
            // Plaintext etcd is refused, and so are half-given client pairs.
            ("etcd: { endpoints: [a:1] }", "etcd"), ("etcd: { endpoints: [a:1], tls: { rootCAs: [] } }", "etcd.tls.rootCAs"),
            ("etcd: { endpoints: [a:1], tls: { rootCAs: [ca.pem], certificate: c.pem } }", "etcd.tls"),
            ("etcd: { endpoints: [a:1], tls: { rootCAs: [ca.pem], insecure: true } }", "etcd.tls.insecure"),
        ] {
            try (base + bad).write(to: file, atomically: true, encoding: .utf8)
            #expect(throws: ConfigError.self) { _ = try OrdererConfiguration.load(file: file.path) }
            do {
                _ = try OrdererConfiguration.load(file: file.path)
            } catch {
                #expect(error.field == field, "\(error)")
                #expect(error.file == file.path)
            }
        }
    }
}
