import Foundation

/// `peer.yaml`: one peer's identity, TLS, data directory and channels. Relative paths are taken
/// from the configuration file's directory.
///
///     mspID: HospitalAMSP
///     msp: crypto/HospitalA/peers/peer0/msp
///     listen: 127.0.0.1:7051
///     tls:
///       certificate: crypto/HospitalA/peers/peer0/tls/cert.crt
///       privateKey: crypto/HospitalA/peers/peer0/tls/key.pem
///       clientRootCAs: [crypto/HospitalA/msp/tlscacerts/tlsca-cert.pem]
///       minimumVersion: "1.2"     # or "1.3" (ServerTLSOptions)
///       handshakeTimeoutSeconds: 10
///     data: peer0.hospital-a
///     roles: [endorser]
///     operations: 127.0.0.1:9443
///     earlyAbort: true           # drop transactions with stale reads before ordering; default false
///     channels:
///       - genesis: healthchannel.block
///         chaincodes:
///           - { name: asset-transfer, version: "1.0" }
///     phi:                                  # optional: the off-chain PHI service
///       channel: healthchannel
///       store: embedded                     # or postgres
///       postgres:                           # TLS always, server certificate and host name verified
///         host: 127.0.0.1
///         port: 5432
///         user: medrex
///         database: medrex
///         tls: { rootCAs: [postgres-ca.pem], certificate: client.pem, privateKey: client-key.pem }  # pair optional
///       custodianKey: phi-custodian-key.pem # default: created in the data directory
///       pendingTimeoutSeconds: 600
///       grantValiditySeconds: 300
package struct PeerConfiguration: Sendable {
    package enum Role: String, Sendable, Equatable, CaseIterable {
        case endorser
        case committer
    }

    /// A channel the peer joins from its genesis block, and the chaincodes defined on it.
    package struct Channel: Sendable, Equatable {
        package var genesis: URL
        package var chaincodes: [(name: String, version: String)]

        package init(genesis: URL, chaincodes: [(name: String, version: String)]) {
            self.genesis = genesis
            self.chaincodes = chaincodes
        }

        package static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.genesis == rhs.genesis && lhs.chaincodes.map(\.name) == rhs.chaincodes.map(\.name)
                && lhs.chaincodes.map(\.version) == rhs.chaincodes.map(\.version)
        }
    }

    package var mspID: String
    /// The peer's own MSP folder (signcerts, keystore).
    package var msp: URL
    package var listenHost: String
    package var listenPort: Int
    package var tlsCertificate: URL
    package var tlsPrivateKey: URL
    /// CAs whose TLS client certificates the peer accepts (mutual TLS).
    package var tlsClientRootCAs: [URL]
    /// Minimum TLS version and handshake timeout of the peer's server.
    package var tlsOptions = ServerTLSOptions()
    package var data: URL
    package var roles: [Role]
    /// The off-chain PHI service; none when nil.
    package var phi: PhiSettings?
    package var channels: [Channel]
    /// Where the operations endpoint (/healthz, /metrics) listens; none when nil.
    package var operations: (host: String, port: Int)?
    /// Whether the gateway checks an endorsed transaction's reads against the committed state and
    /// against transactions it submitted that have not committed yet, and answers
    /// MVCC_READ_CONFLICT before ordering the stale ones (`ReadConflictPrecheck`). Off by default.
    package var earlyAbort = false
    /// Largest difference, in seconds, between a proposal's timestamp and the endorser's clock
    /// (`proposalTimestampSkewSeconds`, 1...300; default 300). Proposals beyond it are refused.
    package var proposalTimestampSkewSeconds = 300

    package init(
        mspID: String, msp: URL, listenHost: String, listenPort: Int, tlsCertificate: URL, tlsPrivateKey: URL,
        tlsClientRootCAs: [URL], data: URL, roles: [Role], channels: [Channel]
    ) {
        self.mspID = mspID
        self.msp = msp
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.tlsCertificate = tlsCertificate
        self.tlsPrivateKey = tlsPrivateKey
        self.tlsClientRootCAs = tlsClientRootCAs
        self.data = data
        self.roles = roles
        self.channels = channels
    }

    /// Installed chaincode plugins live here, as `NAME.so`.
    package var chaincodeDirectory: URL { data.appendingPathComponent("chaincodes") }
    package func ledgerDirectory(channel: String) -> URL { data.appendingPathComponent("ledgers").appendingPathComponent(channel) }

    package static func load(file path: String) throws(ConfigError) -> PeerConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(.unreadable, file: path, line: nil, field: "", reason: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(yaml: text, file: path, baseDirectory: URL(fileURLWithPath: path).deletingLastPathComponent())
    }

    package static func parse(yaml text: String, file: String, baseDirectory: URL) throws(ConfigError) -> PeerConfiguration {
        func path(_ reader: YAMLNodeReader) throws(ConfigError) -> URL {
            let value = try reader.nonEmptyString()
            return value.hasPrefix("/") ? URL(fileURLWithPath: value) : baseDirectory.appendingPathComponent(value)
        }
        var root = try YAMLNodeReader.root(yaml: text, file: file)
        try root.allowOnly([
            "mspID", "msp", "listen", "tls", "data", "roles", "channels", "operations", "earlyAbort", "proposalTimestampSkewSeconds", "phi",
        ])
        let mspID = try root.field("mspID").nonEmptyString()
        let msp = try path(try root.field("msp"))
        let listenReader = try root.field("listen")
        let (host, port) = try hostAndPort(listenReader)
        var tls = try root.field("tls")
        try tls.allowOnly(["certificate", "privateKey", "clientRootCAs", "minimumVersion", "handshakeTimeoutSeconds"])
        let certificate = try path(try tls.field("certificate"))
        let privateKey = try path(try tls.field("privateKey"))
        let clientRootCAs = try tls.field("clientRootCAs").list().map { item throws(ConfigError) in try path(item) }
        let tlsOptions = try ServerTLSOptions.parse(&tls)
        try tls.finish()
        let data = try path(try root.field("data"))
        var roles: [Role] = []
        for item in try root.optionalField("roles")?.list() ?? [] {
            let text = try item.string()
            guard let role = Role(rawValue: text) else { throw item.error(.invalidValue, "unknown role '\(text)' (expected endorser or committer)") }
            roles.append(role)
        }
        var channels: [Channel] = []
        for item in try root.optionalField("channels")?.list() ?? [] {
            var channel = item
            try channel.allowOnly(["genesis", "chaincodes"])
            let genesis = try path(try channel.field("genesis"))
            var chaincodes: [(String, String)] = []
            for chaincode in try channel.optionalField("chaincodes")?.list() ?? [] {
                var reader = chaincode
                try reader.allowOnly(["name", "version"])
                chaincodes.append((try reader.field("name").nonEmptyString(), try reader.optionalField("version")?.string() ?? "1.0"))
                try reader.finish()
            }
            try channel.finish()
            channels.append(Channel(genesis: genesis, chaincodes: chaincodes))
        }
        let operations = try root.optionalField("operations").map { reader throws(ConfigError) in try hostAndPort(reader) }
        let earlyAbort = try root.optionalField("earlyAbort")?.bool() ?? false
        // At most the validation window: a proposal the endorser accepts must be able to commit.
        let skew = try root.optionalField("proposalTimestampSkewSeconds")?.integer(in: 1...300) ?? 300
        let phi = try root.optionalField("phi").map { reader throws(ConfigError) in try PhiSettings.parse(reader, path: path) }
        try root.finish()
        var configuration = PeerConfiguration(
            mspID: mspID, msp: msp, listenHost: host, listenPort: port, tlsCertificate: certificate, tlsPrivateKey: privateKey,
            tlsClientRootCAs: clientRootCAs, data: data, roles: roles.isEmpty ? [.endorser] : roles, channels: channels)
        configuration.operations = operations
        configuration.tlsOptions = tlsOptions
        configuration.earlyAbort = earlyAbort
        configuration.proposalTimestampSkewSeconds = skew
        configuration.phi = phi
        if phi != nil, !configuration.roles.contains(.endorser) || !configuration.roles.contains(.committer) {
            throw ConfigError(.invalidValue, file: file, line: nil, field: "phi", reason: "the PHI service needs both roles, endorser and committer")
        }
        return configuration
    }

    /// `host:port`, the port 1...65535.
    static func hostAndPort(_ reader: YAMLNodeReader) throws(ConfigError) -> (String, Int) {
        let text = try reader.nonEmptyString()
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw reader.error(.invalidValue, "expected host:port, e.g. 127.0.0.1:7051")
        }
        return (String(text[..<colon]), port)
    }
}

/// `phi.postgres` of peer.yaml: the PostgreSQL server of the PHI store and its TLS files.
package struct PostgresSettings: Sendable, Equatable {
    package var host: String
    package var port: Int
    package var user: String
    package var database: String
    package var tls: TLS

    /// The CAs of the server's certificate; the client certificate and key, when the server
    /// authenticates clients by certificate.
    package struct TLS: Sendable, Equatable {
        package var rootCAs: [URL]
        package var certificate: URL?
        package var privateKey: URL?

        package init(rootCAs: [URL], certificate: URL? = nil, privateKey: URL? = nil) {
            self.rootCAs = rootCAs
            self.certificate = certificate
            self.privateKey = privateKey
        }
    }

    package init(host: String, port: Int, user: String, database: String, tls: TLS) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.tls = tls
    }

    /// `{ host, port, user, database, tls: { rootCAs, certificate, privateKey } }`; TLS is required.
    static func parse(_ postgres: inout YAMLNodeReader, path: (YAMLNodeReader) throws(ConfigError) -> URL, stored what: String) throws(ConfigError) -> PostgresSettings {
        try postgres.allowOnly(["host", "port", "user", "database", "tls"])
        let host = try postgres.field("host").nonEmptyString()
        let port = try postgres.optionalField("port")?.integer(in: 1...65535) ?? 5432
        let user = try postgres.field("user").nonEmptyString()
        let database = try postgres.field("database").nonEmptyString()
        guard var tls = try postgres.optionalField("tls") else {
            throw postgres.error(.missingField, "postgres.tls is required: \(what) is stored over TLS only (give at least rootCAs, the CAs of the server's certificate)")
        }
        try tls.allowOnly(["rootCAs", "certificate", "privateKey"])
        let rootCAsReader = try tls.field("rootCAs")
        let rootCAs = try rootCAsReader.list().map { item throws(ConfigError) in try path(item) }
        guard !rootCAs.isEmpty else { throw rootCAsReader.error(.invalidValue, "list at least one CA certificate of the PostgreSQL server") }
        let certificate = try tls.optionalField("certificate").map { item throws(ConfigError) in try path(item) }
        let privateKey = try tls.optionalField("privateKey").map { item throws(ConfigError) in try path(item) }
        guard (certificate == nil) == (privateKey == nil) else { throw tls.error(.invalidValue, "give both certificate and privateKey, or neither") }
        try tls.finish()
        try postgres.finish()
        return PostgresSettings(
            host: host, port: port, user: user, database: database, tls: PostgresSettings.TLS(rootCAs: rootCAs, certificate: certificate, privateKey: privateKey))
    }
}

/// `phi:` of peer.yaml: where the peer keeps its organization's encrypted PHI records and how long
/// it waits for anchors and honours grants.
package struct PhiSettings: Sendable, Equatable {
    package enum Store: Sendable, Equatable {
        /// RocksDB in the peer's data directory (`phi/`): the single-machine default.
        case embedded
        /// A PostgreSQL server; the password, if any, comes from the environment variable
        /// MEDREX_PHI_POSTGRES_PASSWORD, never from the file.
        case postgres(PostgresSettings)
    }

    /// Custodian key versions in a PKCS#11 token (`phi.hsm`): one AES-256 key per version,
    /// labelled `<keyLabel>-v<n>`, shared by the organization's peers. The PIN comes from
    /// `pinFile`, else from the environment variable MEDREX_PHI_HSM_PIN, never from peer.yaml.
    package struct HSM: Sendable, Equatable {
        package var library: String
        package var token: String
        package var keyLabel: String
        package var pinFile: URL?

        package init(library: String, token: String, keyLabel: String = "medrex-custodian", pinFile: URL? = nil) {
            self.library = library
            self.token = token
            self.keyLabel = keyLabel
            self.pinFile = pinFile
        }
    }

    /// How the background job re-wraps data keys after a rotation (`phi.rewrap`).
    package struct Rewrap: Sendable, Equatable {
        /// Wrapped keys per batch; each batch is one on-chain audit entry.
        package var batchSize: Int = 200
        /// At most this many keys re-wrapped per second.
        package var keysPerSecond: Int = 1_000

        package init(batchSize: Int = 200, keysPerSecond: Int = 1_000) {
            self.batchSize = batchSize
            self.keysPerSecond = keysPerSecond
        }
    }

    package var channel: String
    package var store: Store
    /// The custodian's first P-256 key-agreement key (PEM; later versions beside it); nil:
    /// `phi/custodian-key.pem` in the data directory, created on first start. Unused with `hsm`.
    package var custodianKey: URL?
    /// Custodian keys in a PKCS#11 token instead of PEM files.
    package var hsm: HSM?
    package var rewrap = Rewrap()
    package var pendingTimeoutSeconds: Int
    package var grantValiditySeconds: Int

    static func parse(_ reader: YAMLNodeReader, path: (YAMLNodeReader) throws(ConfigError) -> URL) throws(ConfigError) -> PhiSettings {
        var root = reader
        try root.allowOnly(["channel", "store", "postgres", "custodianKey", "hsm", "rewrap", "pendingTimeoutSeconds", "grantValiditySeconds"])
        let channel = try root.field("channel").nonEmptyString()
        let storeReader = try root.optionalField("store")
        let storeName = try storeReader?.string() ?? "embedded"
        var store = Store.embedded
        let postgres = try root.optionalField("postgres")
        switch storeName {
        case "embedded":
            if let postgres { throw postgres.error(.invalidValue, "postgres settings are given but store is embedded") }
        case "postgres":
            guard var postgres else {
                throw root.error(.missingField, "store postgres needs a postgres: { host, port, user, database, tls } section")
            }
            store = .postgres(try PostgresSettings.parse(&postgres, path: path, stored: "PHI"))
        default:
            throw storeReader!.error(.invalidValue, "unknown store '\(storeName)' (expected embedded or postgres)")
        }
        let custodianKeyReader = try root.optionalField("custodianKey")
        let custodianKey = try custodianKeyReader.map { item throws(ConfigError) in try path(item) }
        var hsm: HSM?
        if var reader = try root.optionalField("hsm") {
            if let custodianKeyReader { throw custodianKeyReader.error(.invalidValue, "give custodianKey (PEM files) or hsm (a PKCS#11 token), not both") }
            try reader.allowOnly(["library", "token", "keyLabel", "pinFile"])
            let library = try reader.field("library").nonEmptyString()
            let token = try reader.field("token").nonEmptyString()
            let labelReader = try reader.optionalField("keyLabel")
            let keyLabel = try labelReader?.nonEmptyString() ?? "medrex-custodian"
            guard keyLabel.utf8.count <= 48, keyLabel.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw (labelReader ?? reader).error(.invalidValue, "keyLabel must be 1 to 48 printable ASCII characters without spaces")
            }
            let pinFile = try reader.optionalField("pinFile").map { item throws(ConfigError) in try path(item) }
            try reader.finish()
            hsm = HSM(library: library, token: token, keyLabel: keyLabel, pinFile: pinFile)
        }
        var rewrap = Rewrap()
        if var reader = try root.optionalField("rewrap") {
            try reader.allowOnly(["batchSize", "keysPerSecond"])
            rewrap.batchSize = try reader.optionalField("batchSize")?.integer(in: 1...10_000) ?? rewrap.batchSize
            rewrap.keysPerSecond = try reader.optionalField("keysPerSecond")?.integer(in: 1...1_000_000) ?? rewrap.keysPerSecond
            try reader.finish()
        }
        let pending = try root.optionalField("pendingTimeoutSeconds")?.integer(in: 10...86_400) ?? 600
        let grant = try root.optionalField("grantValiditySeconds")?.integer(in: 1...3_600) ?? 300
        try root.finish()
        var settings = PhiSettings(channel: channel, store: store, custodianKey: custodianKey, pendingTimeoutSeconds: pending, grantValiditySeconds: grant)
        settings.hsm = hsm
        settings.rewrap = rewrap
        return settings
    }
}
