import Foundation

/// `ca.yaml`: an organization's enrollment CA server (`medrex ca start`).
///
///     name: ca-hospital-a                 # the CA's name (Fabric CA's CAName)
///     listen: 127.0.0.1:7054
///     tls: { certificate: tls/cert.crt, privateKey: tls/key.pem }     # the server's TLS pair
///     ca: { certificate: ca/ca-cert.pem, privateKey: ca/ca-key.pem }   # the organization's CA
///     registry: ca-registry.json          # the embedded registry file (created when absent), or:
///     registry: { postgres: { host: 127.0.0.1, port: 5432, user: medrex, database: medrex_ca, tls: { rootCAs: [pg-ca.pem] } } }
///     registrar: { id: admin, secret: adminpw }   # the bootstrap registrar, registered on first start
///     certificateValidityDays: 365        # default 365
///
/// Relative paths are relative to the file's directory. The registrar's secret may instead come
/// from the environment variable MEDREX_CA_REGISTRAR_SECRET (which wins); a PostgreSQL password
/// comes from MEDREX_CA_POSTGRES_PASSWORD, never from the file.
package struct CAConfiguration: Sendable {
    package var name: String
    package var listenHost: String
    package var listenPort: Int
    package var tlsCertificate: URL
    package var tlsPrivateKey: URL
    package var caCertificate: URL
    package var caPrivateKey: URL
    /// Where the registry is kept.
    package enum Registry: Sendable, Equatable {
        case embedded(URL)
        case postgres(PostgresSettings)
    }

    package var registry: Registry
    package var registrarID: String
    package var registrarSecret: String
    package var certificateValidityDays: Int
    package var sourceFile: String

    package static func load(file: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> CAConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError(.unreadable, file: file, line: nil, field: "", reason: "cannot read the CA configuration: \(error.localizedDescription)")
        }
        return try parse(yaml: text, file: file, environment: environment)
    }

    package static func parse(yaml text: String, file: String, environment: [String: String] = [:]) throws(ConfigError) -> CAConfiguration {
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        func path(_ reader: YAMLNodeReader) throws(ConfigError) -> URL {
            let value = try reader.nonEmptyString()
            return value.hasPrefix("/") ? URL(fileURLWithPath: value) : base.appendingPathComponent(value)
        }
        var root = try YAMLNodeReader.root(yaml: text, file: file)
        try root.allowOnly(["name", "listen", "tls", "ca", "registry", "registrar", "certificateValidityDays"])
        let name = try root.field("name").nonEmptyString()
        let (host, port) = try PeerConfiguration.hostAndPort(try root.field("listen"))
        var tls = try root.field("tls")
        try tls.allowOnly(["certificate", "privateKey"])
        let tlsCertificate = try path(try tls.field("certificate"))
        let tlsPrivateKey = try path(try tls.field("privateKey"))
        try tls.finish()
        var ca = try root.field("ca")
        try ca.allowOnly(["certificate", "privateKey"])
        let caCertificate = try path(try ca.field("certificate"))
        let caPrivateKey = try path(try ca.field("privateKey"))
        try ca.finish()
        let registryReader = try root.field("registry")
        let registry: Registry
        if (try? registryReader.string()) != nil {
            registry = .embedded(try path(registryReader))
        } else {
            var mapping = registryReader
            try mapping.allowOnly(["postgres"])
            var postgres = try mapping.field("postgres")
            registry = .postgres(try PostgresSettings.parse(&postgres, path: path, stored: "the CA registry"))
            try mapping.finish()
        }
        var registrar = try root.field("registrar")
        try registrar.allowOnly(["id", "secret"])
        let registrarID = try registrar.field("id").nonEmptyString()
        let secretReader = try registrar.optionalField("secret")
        var secret = environment["MEDREX_CA_REGISTRAR_SECRET"]
        if secret == nil, let secretReader { secret = try secretReader.nonEmptyString() }
        guard let secret, !secret.isEmpty else {
            throw registrar.error(.missingField, "the registrar needs a secret: registrar.secret, or the environment variable MEDREX_CA_REGISTRAR_SECRET")
        }
        try registrar.finish()
        let days = try root.optionalField("certificateValidityDays")?.integer(in: 1...3650) ?? 365
        try root.finish()
        return CAConfiguration(
            name: name, listenHost: host, listenPort: port, tlsCertificate: tlsCertificate, tlsPrivateKey: tlsPrivateKey, caCertificate: caCertificate,
            caPrivateKey: caPrivateKey, registry: registry, registrarID: registrarID, registrarSecret: secret, certificateValidityDays: days, sourceFile: file)
    }
}

/// Writes an enrolled identity as a Fabric MSP folder: `signcerts/cert.pem`, `keystore/key.pem`
/// (mode 0600), `cacerts/ca-cert.pem` and the NodeOUs `config.yaml`, as `medrex crypto generate`
/// lays them out (so the identity signs with every `medrex` command), replacing what was there.
package enum EnrolledMSPWriter {
    package static func write(certificatePEM: String, privateKeyPEM: String, caChainPEM: String, to folder: CryptoMaterialLayout.MSPFolder) throws(ConfigError) {
        do {
            let manager = FileManager.default
            for directory in [folder.signingCertificate, folder.privateKey, folder.caCertificate].map({ $0.deletingLastPathComponent() }) {
                try manager.createDirectory(at: directory, withIntermediateDirectories: true)
            }
            try Data(certificatePEM.utf8).write(to: folder.signingCertificate, options: .atomic)
            try Data(privateKeyPEM.utf8).write(to: folder.privateKey, options: .atomic)
            try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: folder.privateKey.path)
            try Data(caChainPEM.utf8).write(to: folder.caCertificate, options: .atomic)
            try Data(NodeOUConfiguration.yaml.utf8).write(to: folder.nodeOUConfiguration, options: .atomic)
        } catch {
            throw ConfigError(.writeFailed, file: folder.directory.path, line: nil, field: "", reason: "cannot write the MSP folder: \(error.localizedDescription)")
        }
    }
}
