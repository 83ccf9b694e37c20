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
///     etcd:                      # needed by channels with consensus etcd
///       endpoints: [127.0.0.1:2379, 127.0.0.1:2479, 127.0.0.1:2579]
///       tls:                        # required: etcd is reached over mutual TLS only
///         rootCAs: [crypto/OrdererOrg/tlsca/tlsca-cert.pem]   # CAs of the etcd members' certificates
///         certificate: ...          # the client certificate and key; default: tls.certificate/privateKey above
///         privateKey: ...
///       advertise: 127.0.0.1:7050   # how the other orderers reach this one; default: listen
///       leaseSeconds: 3             # leader lease TTL: failover time after a crash; default 3
///
/// How blocks are cut (batch settings, `reorderBlocks`, the idle cut) is the channel's
/// configuration, not the orderer's: every orderer of a channel cuts the same blocks.
package struct OrdererConfiguration: Sendable {
    /// How an orderer takes part in `etcd` consensus: the etcd cluster it uses as the replicated log,
    /// and the address under which the other orderers reach it (to forward Broadcast to it when it
    /// leads, and to tell the orderers apart in etcd).
    package struct EtcdSettings: Sendable, Hashable {
        /// The etcd members' client addresses, `host:port`.
        package var endpoints: [String]
        /// This orderer's Broadcast/Deliver address as the other orderers dial it.
        package var advertisedHost: String
        package var advertisedPort: Int
        /// The leader's lease TTL: after a leader crashes, another takes over within about this long.
        package var leaseSeconds: Int
        package var tls: EtcdTLS

        /// Mutual TLS to the etcd members.
        package struct EtcdTLS: Sendable, Hashable {
            /// CAs that sign the members' certificates (their host names are checked too).
            package var rootCAs: [URL]
            /// The client certificate and key the orderer presents; nil: its own server TLS pair.
            package var certificate: URL?
            package var privateKey: URL?

            package init(rootCAs: [URL], certificate: URL? = nil, privateKey: URL? = nil) {
                self.rootCAs = rootCAs
                self.certificate = certificate
                self.privateKey = privateKey
            }
        }

        package init(endpoints: [String], advertisedHost: String, advertisedPort: Int, leaseSeconds: Int = 3, tls: EtcdTLS) {
            self.endpoints = endpoints
            self.tls = tls
            self.advertisedHost = advertisedHost
            self.advertisedPort = advertisedPort
            self.leaseSeconds = leaseSeconds
        }

        /// `host:port` of `advertisedHost` and `advertisedPort`.
        package var advertisedEndpoint: String { "\(advertisedHost):\(advertisedPort)" }
    }

    package var mspID: String
    package var msp: URL
    package var listenHost: String
    package var listenPort: Int
    package var tlsCertificate: URL
    package var tlsPrivateKey: URL
    package var tlsClientRootCAs: [URL]
    /// Minimum TLS version and handshake timeout of the orderer's server.
    package var tlsOptions = ServerTLSOptions()
    package var data: URL
    /// Where the operations endpoint (/healthz, /metrics) listens; none when nil.
    package var operations: (host: String, port: Int)?
    /// Genesis blocks of the channels to order.
    package var channels: [URL]
    /// The etcd cluster for channels with consensus `etcd`; nil when the orderer serves solo channels only.
    package var etcd: EtcdSettings?
    /// The file this configuration was read from, for errors that point at it.
    package var sourceFile: String = "orderer.yaml"

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
        for moved in ["reorderBlocks", "batchIdleTimeout"] {
            if let field = try root.optionalField(moved) {
                throw field.error(
                    .unknownField,
                    "\(moved) is a setting of the channel now, so that every orderer cuts the same blocks: set it on the channel in network.yaml "
                        + "(reorderBlocks: true; batch: { idleTimeout: 2ms }) or change a running channel with medrex channel update")
            }
        }
        try root.allowOnly(["mspID", "msp", "listen", "tls", "data", "channels", "operations", "etcd", "reorderBlocks", "batchIdleTimeout"])
        let mspID = try root.field("mspID").nonEmptyString()
        let msp = try path(try root.field("msp"))
        let (host, port) = try PeerConfiguration.hostAndPort(try root.field("listen"))
        var tls = try root.field("tls")
        try tls.allowOnly(["certificate", "privateKey", "clientRootCAs", "minimumVersion", "handshakeTimeoutSeconds"])
        let certificate = try path(try tls.field("certificate"))
        let privateKey = try path(try tls.field("privateKey"))
        let roots = try tls.field("clientRootCAs").list().map { item throws(ConfigError) in try path(item) }
        let tlsOptions = try ServerTLSOptions.parse(&tls)
        let data = try path(try root.field("data"))
        let channels = try root.field("channels").list().map { item throws(ConfigError) in try path(item) }
        let operations = try root.optionalField("operations").map { reader throws(ConfigError) in try PeerConfiguration.hostAndPort(reader) }
        let etcd = try root.optionalField("etcd").map { reader throws(ConfigError) in try etcdSettings(reader, listen: (host, port), path: path) }
        var configuration = OrdererConfiguration(
            mspID: mspID, msp: msp, listenHost: host, listenPort: port, tlsCertificate: certificate, tlsPrivateKey: privateKey,
            tlsClientRootCAs: roots, data: data, channels: channels)
        configuration.operations = operations
        configuration.tlsOptions = tlsOptions
        configuration.etcd = etcd
        configuration.sourceFile = configFile
        return configuration
    }

    /// `etcd: { endpoints: [host:port, ...], advertise: host:port }`; `advertise` defaults to the
    /// listen address, which must then not be a wildcard.
    private static func etcdSettings(
        _ reader: YAMLNodeReader, listen: (host: String, port: Int), path: (YAMLNodeReader) throws(ConfigError) -> URL
    ) throws(ConfigError) -> EtcdSettings {
        var reader = reader
        try reader.allowOnly(["endpoints", "advertise", "leaseSeconds", "tls"])
        guard var tlsReader = try reader.optionalField("tls") else {
            throw reader.error(.missingField, "etcd.tls is required: the orderers reach etcd over mutual TLS only (give at least rootCAs)")
        }
        try tlsReader.allowOnly(["rootCAs", "certificate", "privateKey"])
        let rootCAsReader = try tlsReader.field("rootCAs")
        let rootCAs = try rootCAsReader.list().map { item throws(ConfigError) in try path(item) }
        guard !rootCAs.isEmpty else { throw rootCAsReader.error(.invalidValue, "list at least one CA certificate of the etcd members") }
        let clientCertificate = try tlsReader.optionalField("certificate").map { item throws(ConfigError) in try path(item) }
        let clientKey = try tlsReader.optionalField("privateKey").map { item throws(ConfigError) in try path(item) }
        guard (clientCertificate == nil) == (clientKey == nil) else {
            throw tlsReader.error(.invalidValue, "give both certificate and privateKey, or neither (the orderer's own TLS pair is used)")
        }
        let tls = EtcdSettings.EtcdTLS(rootCAs: rootCAs, certificate: clientCertificate, privateKey: clientKey)
        // etcd grants no lease shorter than its election timeout allows (about 2 s with its defaults).
        let leaseSeconds = try reader.optionalField("leaseSeconds")?.integer(in: 2...60) ?? 3
        let endpointsReader = try reader.field("endpoints")
        let endpoints = try endpointsReader.list().map { item throws(ConfigError) -> String in
            let (host, port) = try PeerConfiguration.hostAndPort(item)
            return "\(host):\(port)"
        }
        guard !endpoints.isEmpty else { throw endpointsReader.error(.invalidValue, "list at least one etcd member, e.g. [127.0.0.1:2379]") }
        if let advertise = try reader.optionalField("advertise") {
            let (host, port) = try PeerConfiguration.hostAndPort(advertise)
            return EtcdSettings(endpoints: endpoints, advertisedHost: host, advertisedPort: port, leaseSeconds: leaseSeconds, tls: tls)
        }
        guard !["0.0.0.0", "::", "[::]"].contains(listen.host) else {
            throw reader.error(.missingField, "listen is a wildcard address: set etcd.advertise to the host:port the other orderers dial")
        }
        return EtcdSettings(endpoints: endpoints, advertisedHost: listen.host, advertisedPort: listen.port, leaseSeconds: leaseSeconds, tls: tls)
    }
}
