import Foundation
import Testing

@testable import NetworkConfig

/// `medrex network render`: the files it writes load as the daemons load them, with the addresses
/// and paths of network.yaml, split by host.
@Suite struct NetworkRendererTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func sample() throws -> String {
        try String(contentsOf: repository.appendingPathComponent("network-config/network.yaml"), encoding: .utf8)
    }

    /// Writes the rendered files under a temporary directory; returns it.
    static func write(_ files: [NetworkRenderer.File]) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-render-\(UUID().uuidString)")
        for file in files {
            let url = root.appendingPathComponent(file.path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.contents.utf8).write(to: url)
        }
        return root
    }

    @Test func theSampleNetworkRendersToConfigurationsTheDaemonsLoad() throws {
        let network = try NetworkDescription.parse(yaml: try Self.sample(), file: "network.yaml")
        var options = NetworkRenderer.Options()
        options.chaincodes = [("kv", "1.0"), ("accounts", "1.0")]
        options.channels = ["healthchannel"]
        let files = try NetworkRenderer(network: network, options: options).render()
        #expect(files.map(\.path).sorted() == [
            "127.0.0.1/orderer0.yaml", "127.0.0.1/orderer1.yaml", "127.0.0.1/orderer2.yaml", "127.0.0.1/peer0-HospitalA.yaml",
            "127.0.0.1/peer0-HospitalB.yaml", "127.0.0.1/peer1-HospitalA.yaml", "127.0.0.1/peer1-HospitalB.yaml", "127.0.0.1/start.sh",
        ])
        let root = try Self.write(files)
        defer { try? FileManager.default.removeItem(at: root) }
        let host = root.appendingPathComponent("127.0.0.1")

        let orderer = try OrdererConfiguration.load(file: host.appendingPathComponent("orderer1.yaml").path)
        #expect(orderer.mspID == "OrdererMSP")
        #expect(orderer.listenHost == "127.0.0.1" && orderer.listenPort == 7060)
        #expect(orderer.operations?.port == 9441)
        #expect(orderer.channels.map(\.lastPathComponent) == ["healthchannel.block"])
        #expect(orderer.etcd?.endpoints == ["127.0.0.1:2379", "127.0.0.1:2479", "127.0.0.1:2579"])
        #expect(orderer.etcd?.advertisedEndpoint == "127.0.0.1:7060")
        #expect(orderer.tlsClientRootCAs.map { $0.path.replacingOccurrences(of: host.path + "/", with: "") } == [
            "crypto/OrdererOrg/tlsca/tlsca-cert.pem", "crypto/HospitalA/tlsca/tlsca-cert.pem", "crypto/HospitalB/tlsca/tlsca-cert.pem",
        ])

        let peer = try PeerConfiguration.load(file: host.appendingPathComponent("peer1-HospitalB.yaml").path)
        #expect(peer.mspID == "HospitalBMSP")
        #expect(peer.listenPort == 8061 && peer.operations?.port == 9446)
        #expect(peer.msp.path == host.appendingPathComponent("crypto/HospitalB/peers/peer1/msp").path)
        #expect(peer.channels.map(\.genesis.lastPathComponent) == ["healthchannel.block"])
        #expect(peer.channels.first?.chaincodes.map(\.name) == ["kv", "accounts"])
        #expect(peer.data.path == host.appendingPathComponent("data/peer1-HospitalB").path)

        let script = try #require(files.first { $0.path == "127.0.0.1/start.sh" })
        #expect(script.executable)
        #expect(script.contents.contains("start etcd0 etcd --name etcd0"))
        #expect(script.contents.contains("start peer1-HospitalB \"$medrex\" peer start --config peer1-HospitalB.yaml"))
    }

    /// Nodes on several hosts: one directory each, addresses dialled at the hosts, listening on
    /// every interface when asked; a solo-only selection needs no etcd.
    @Test func nodesOnSeveralHostsGetADirectoryEach() throws {
        let text = try Self.sample()
            .replacingOccurrences(of: "{ name: orderer0, port: 7050", with: "{ name: orderer0, host: ord-a.example, port: 7050")
            .replacingOccurrences(of: "{ name: orderer1, port: 7060", with: "{ name: orderer1, host: ord-b.example, port: 7060")
            .replacingOccurrences(of: "{ name: orderer2, port: 7070", with: "{ name: orderer2, host: ord-b.example, port: 7070")
            .replacingOccurrences(of: "{ name: etcd0, clientPort", with: "{ name: etcd0, host: ord-a.example, clientPort")
            .replacingOccurrences(of: "{ name: peer0, port: 7051", with: "{ name: peer0, host: hospital-a.example, port: 7051")
        let network = try NetworkDescription.parse(yaml: text, file: "network.yaml")
        var options = NetworkRenderer.Options()
        options.listenOnAllInterfaces = true
        options.channels = ["healthchannel"]
        let files = try NetworkRenderer(network: network, options: options).render()
        #expect(Set(files.map { $0.path.split(separator: "/")[0] }) == ["127.0.0.1", "hospital-a.example", "ord-a.example", "ord-b.example"])
        let root = try Self.write(files)
        defer { try? FileManager.default.removeItem(at: root) }
        let orderer = try OrdererConfiguration.load(file: root.appendingPathComponent("ord-b.example/orderer2.yaml").path)
        #expect(orderer.listenHost == "0.0.0.0" && orderer.listenPort == 7070)
        #expect(orderer.etcd?.endpoints == ["ord-a.example:2379", "127.0.0.1:2479", "127.0.0.1:2579"])
        #expect(orderer.etcd?.advertisedEndpoint == "ord-b.example:7070")
        let etcdHost = try #require(files.first { $0.path == "ord-a.example/start.sh" })
        #expect(etcdHost.contents.contains("--advertise-client-urls https://ord-a.example:2379"))
        #expect(etcdHost.contents.contains("--listen-client-urls https://0.0.0.0:2379"))
        #expect(etcdHost.contents.contains("start orderer0"))

        options.channels = ["devchannel"]
        let solo = try NetworkRenderer(network: network, options: options).render()
        #expect(!solo.contains { $0.contents.contains("etcd:") || $0.contents.contains("start etcd") })
    }

    /// A solo channel is ordered by one process: only the solo orderer gets it, and orderers with
    /// no channel get no file and no start line (two solo orderers would cut two different chains).
    @Test func aSoloChannelGoesToTheSoloOrdererOnly() throws {
        let network = try NetworkDescription.parse(yaml: try Self.sample(), file: "network.yaml")
        var options = NetworkRenderer.Options()
        options.channels = ["devchannel"]
        let files = try NetworkRenderer(network: network, options: options).render()
        #expect(files.map(\.path).filter { $0.contains("orderer") } == ["127.0.0.1/orderer0.yaml"])
        let script = try #require(files.first { $0.path == "127.0.0.1/start.sh" })
        #expect(script.contents.contains("start orderer0 ") && !script.contents.contains("start orderer1 "))

        // With both channels, the etcd channel goes to every orderer and the solo one to orderer0 only.
        options.channels = nil
        let root = try Self.write(try NetworkRenderer(network: network, options: options).render())
        defer { try? FileManager.default.removeItem(at: root) }
        let host = root.appendingPathComponent("127.0.0.1")
        let first = try OrdererConfiguration.load(file: host.appendingPathComponent("orderer0.yaml").path)
        let second = try OrdererConfiguration.load(file: host.appendingPathComponent("orderer1.yaml").path)
        #expect(first.channels.map(\.lastPathComponent) == ["healthchannel.block", "devchannel.block"])
        #expect(second.channels.map(\.lastPathComponent) == ["healthchannel.block"])
    }

    /// Node settings the scripts and benches tune, and an organization's PHI store in PostgreSQL,
    /// load as the daemons read them.
    @Test func extraSettingsAndAPostgresPhiStoreLoad() throws {
        let network = try NetworkDescription.parse(yaml: try Self.sample(), file: "network.yaml")
        var options = NetworkRenderer.Options()
        options.channels = ["devchannel"]
        options.phiService = true
        options.phiPostgres["HospitalA"] = try #require(NetworkRenderer.PostgresServer(url: "postgres://medrex@127.0.0.1:6543/medrex_phi", rootCA: "/tmp/pg ca.pem"))
        options.ordererSettings = [("reorderBlocks", "true"), ("batchIdleTimeout", "20ms")]
        options.peerSettings = [("earlyAbort", "true")]
        let root = try Self.write(try NetworkRenderer(network: network, options: options).render())
        defer { try? FileManager.default.removeItem(at: root) }
        let host = root.appendingPathComponent("127.0.0.1")
        // The ordering switches are the channel's now: an orderer file that sets them is refused, saying where they went.
        let moved = try #require(throws: ConfigError.self) { _ = try OrdererConfiguration.load(file: host.appendingPathComponent("orderer0.yaml").path) }
        #expect(moved.field == "reorderBlocks" && moved.reason.contains("network.yaml"))
        let peerA = try PeerConfiguration.load(file: host.appendingPathComponent("peer0-HospitalA.yaml").path)
        #expect(peerA.earlyAbort)
        guard case .postgres(let server) = peerA.phi?.store else {
            Issue.record("HospitalA's PHI store is \(String(describing: peerA.phi?.store)), not PostgreSQL")
            return
        }
        #expect(server.host == "127.0.0.1" && server.port == 6543 && server.user == "medrex" && server.database == "medrex_phi")
        let peerB = try PeerConfiguration.load(file: host.appendingPathComponent("peer0-HospitalB.yaml").path)
        guard case .embedded = peerB.phi?.store else {
            Issue.record("HospitalB's PHI store is \(String(describing: peerB.phi?.store)), not embedded")
            return
        }
    }

    @Test func aCustodianKeyInAPKCS11TokenAndTheRewrapPaceLoad() throws {
        let network = try NetworkDescription.parse(yaml: try Self.sample(), file: "network.yaml")
        var options = NetworkRenderer.Options()
        options.channels = ["devchannel"]
        options.phiService = true
        options.phiHSM["HospitalA"] = PhiSettings.HSM(
            library: "/usr/lib/softhsm/libsofthsm2.so", token: "HospitalA-PHI", pinFile: URL(fileURLWithPath: "/etc/medrex/hsm-pin"))
        options.phiRewrap = PhiSettings.Rewrap(batchSize: 50, keysPerSecond: 500)
        let root = try Self.write(try NetworkRenderer(network: network, options: options).render())
        defer { try? FileManager.default.removeItem(at: root) }
        let peerA = try PeerConfiguration.load(file: root.appendingPathComponent("127.0.0.1/peer0-HospitalA.yaml").path)
        #expect(peerA.phi?.hsm == options.phiHSM["HospitalA"])
        #expect(peerA.phi?.rewrap == PhiSettings.Rewrap(batchSize: 50, keysPerSecond: 500))
        let peerB = try PeerConfiguration.load(file: root.appendingPathComponent("127.0.0.1/peer0-HospitalB.yaml").path)
        #expect(peerB.phi?.hsm == nil)
        for token in ["a, evil: 1", "a}", "two words", "", "x\ny"] {
            var bad = options
            bad.phiHSM["HospitalA"] = PhiSettings.HSM(library: "/lib/p11.so", token: token)
            let error = #expect(throws: ConfigError.self) { _ = try NetworkRenderer(network: network, options: bad).render() }
            #expect(error?.field == "phi-hsm", "\(token)")
        }
    }

    /// Settings and PostgreSQL URLs that would change the file's structure are refused.
    @Test func settingsThatCouldBreakTheFileAreRefused() throws {
        let network = try NetworkDescription.parse(yaml: try Self.sample(), file: "network.yaml")
        for (key, value) in [("earlyAbort", "true\nmspID: Evil"), ("a b", "1"), ("x", "{ y: 1 }"), ("", "1"), ("k", "")] {
            var options = NetworkRenderer.Options()
            options.peerSettings = [(key, value)]
            let error = #expect(throws: ConfigError.self) { _ = try NetworkRenderer(network: network, options: options).render() }
            #expect(error?.field == "peer-setting")
        }
        for url in ["postgres://u@h:1/db, evil", "http://u@h/db", "postgres://h/db", "postgres://u@h/", "postgres://u@h/a/b", "postgres://u@{h}/db"] {
            #expect(NetworkRenderer.PostgresServer(url: url, rootCA: "ca.pem") == nil, "\(url)")
        }
        #expect(NetworkRenderer.PostgresServer(url: "postgres://u@h/db", rootCA: "ca.pem]\nmspID: x") == nil)
        var options = NetworkRenderer.Options()
        options.phiService = true
        options.phiPostgres["OrdererOrg"] = NetworkRenderer.PostgresServer(url: "postgres://u@h/db", rootCA: "ca.pem")
        #expect(throws: ConfigError.self) { _ = try NetworkRenderer(network: network, options: options).render() }
    }

    /// An etcd cluster run apart from network.yaml (a bench's) and endorsing-only peers.
    @Test func anExternalEtcdAndPeerRolesLoad() throws {
        let network = try NetworkDescription.parse(yaml: try Self.sample(), file: "network.yaml")
        var options = NetworkRenderer.Options()
        options.channels = ["healthchannel"]
        options.externalEtcd = NetworkRenderer.ExternalEtcd(endpoints: ["127.0.0.1:41000", "127.0.0.1:41001"], rootCAs: ["/tmp/etcd/ca.pem"], certificate: "/tmp/etcd/client.pem", privateKey: "/tmp/etcd/client-key.pem")
        options.peerRoles = ["endorser"]
        let files = try NetworkRenderer(network: network, options: options).render()
        #expect(!files.contains { $0.contents.contains("start etcd") })
        let root = try Self.write(files)
        defer { try? FileManager.default.removeItem(at: root) }
        let host = root.appendingPathComponent("127.0.0.1")
        let orderer = try OrdererConfiguration.load(file: host.appendingPathComponent("orderer2.yaml").path)
        #expect(orderer.etcd?.endpoints == ["127.0.0.1:41000", "127.0.0.1:41001"])
        #expect(orderer.etcd?.tls.rootCAs.map(\.path) == ["/tmp/etcd/ca.pem"])
        #expect(orderer.etcd?.tls.certificate?.path == "/tmp/etcd/client.pem")
        let peer = try PeerConfiguration.load(file: host.appendingPathComponent("peer0-HospitalA.yaml").path)
        #expect(peer.roles == [.endorser])

        options.peerRoles = ["endorser", "orderer"]
        #expect(throws: ConfigError.self) { _ = try NetworkRenderer(network: network, options: options).render() }
        options.peerRoles = ["committer"]
        options.externalEtcd = NetworkRenderer.ExternalEtcd(endpoints: ["127.0.0.1:1, evil"], rootCAs: ["ca.pem"])
        #expect(throws: ConfigError.self) { _ = try NetworkRenderer(network: network, options: options).render() }
        options.externalEtcd = NetworkRenderer.ExternalEtcd(endpoints: ["127.0.0.1:1"], rootCAs: ["ca.pem"], certificate: "c.pem")
        #expect(throws: ConfigError.self) { _ = try NetworkRenderer(network: network, options: options).render() }
    }

    @Test func anUnknownChannelIsRefused() throws {
        let network = try NetworkDescription.parse(yaml: try Self.sample(), file: "network.yaml")
        var options = NetworkRenderer.Options()
        options.channels = ["nochannel"]
        let error = #expect(throws: ConfigError.self) { _ = try NetworkRenderer(network: network, options: options).render() }
        #expect(error?.reason.contains("no channel 'nochannel'") == true)
    }
}
