import Foundation

/// `orderer.yaml`: one orderer's identity, TLS, data directory and the channels it orders, each
/// joined from its genesis block (`medrex channel create`). Relative paths are taken from the
/// file's directory.
///
///     mspID: OrdererMSP
///     msp: crypto/OrdererOrg/orderers/orderer0/msp
///     listen: 127.0.0.1:7050
///     tls: { certificate: ..., privateKey: ..., clientRootCAs: [...] }
///     data: orderer0
///     channels: [healthchannel.block]
package struct OrdererConfiguration: Sendable {
    package var mspID: String
    package var msp: URL
    package var listenHost: String
    package var listenPort: Int
    package var tlsCertificate: URL
    package var tlsPrivateKey: URL
    package var tlsClientRootCAs: [URL]
    package var data: URL
    /// Where the operations endpoint (/healthz, /metrics) listens; none when nil.
    package var operations: (host: String, port: Int)?
    /// Genesis blocks of the channels to order.
    package var channels: [URL]

    package init(
        mspID: String, msp: URL, listenHost: String, listenPort: Int, tlsCertificate: URL, tlsPrivateKey: URL,
        tlsClientRootCAs: [URL], data: URL, channels: [URL]
    ) {
        self.mspID = mspID
        self.msp = msp
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.tlsCertificate = tlsCertificate
        self.tlsPrivateKey = tlsPrivateKey
        self.tlsClientRootCAs = tlsClientRootCAs
        self.data = data
        self.channels = channels
    }

    package func ledgerDirectory(channel: String) -> URL { data.appendingPathComponent("ledgers").appendingPathComponent(channel) }

    package static func load(file configFile: String) throws(ConfigError) -> OrdererConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: configFile, encoding: .utf8)
        } catch {
            throw ConfigError(.unreadable, file: configFile, line: nil, field: "", reason: "cannot read the file: \(error.localizedDescription)")
        }
        let base = URL(fileURLWithPath: configFile).deletingLastPathComponent()
        func path(_ reader: YAMLNodeReader) throws(ConfigError) -> URL {
            let value = try reader.nonEmptyString()
            return value.hasPrefix("/") ? URL(fileURLWithPath: value) : base.appendingPathComponent(value)
        }
        var root = try YAMLNodeReader.root(yaml: text, file: configFile)
        try root.allowOnly(["mspID", "msp", "listen", "tls", "data", "channels", "operations"])
        let mspID = try root.field("mspID").nonEmptyString()
        let msp = try path(try root.field("msp"))
        let (host, port) = try PeerConfiguration.hostAndPort(try root.field("listen"))
        var tls = try root.field("tls")
        try tls.allowOnly(["certificate", "privateKey", "clientRootCAs"])
        let certificate = try path(try tls.field("certificate"))
        let privateKey = try path(try tls.field("privateKey"))
        let roots = try tls.field("clientRootCAs").list().map { item throws(ConfigError) in try path(item) }
        let data = try path(try root.field("data"))
        let channels = try root.field("channels").list().map { item throws(ConfigError) in try path(item) }
        let operations = try root.optionalField("operations").map { reader throws(ConfigError) in try PeerConfiguration.hostAndPort(reader) }
        var configuration = OrdererConfiguration(
            mspID: mspID, msp: msp, listenHost: host, listenPort: port, tlsCertificate: certificate, tlsPrivateKey: privateKey,
            tlsClientRootCAs: roots, data: data, channels: channels)
        configuration.operations = operations
        return configuration
    }
}
