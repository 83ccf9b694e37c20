import ArgumentParser
import Crypto
import EnrollmentCA
import Foundation
import Hummingbird
import Identity
import Logging
import NetworkConfig
import OffChainStore
import PostgresNIO
import ServiceLifecycle
import X509

/// `medrex ca`: an organization's enrollment CA (Fabric CA's REST API) and its client.
struct CACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "An organization's enrollment CA (Fabric CA's REST API) and its client.",
        subcommands: [Start.self, Register.self, Enroll.self, Reenroll.self, Revoke.self, GenerateCRL.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the enrollment CA of ca.yaml over TLS until SIGTERM or SIGINT.")
        @Option(help: "The CA's configuration (ca.yaml).") var config: String

        func run() async throws {
            let configuration = try CAConfiguration.load(file: config)
            let logger = Logger(label: "medrex.ca")
            let authority: CertificateAuthority
            do {
                authority = try CertificateAuthority(
                    certificate: try Certificate(pemEncoded: String(contentsOf: configuration.caCertificate, encoding: .utf8)),
                    privateKey: try P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: configuration.caPrivateKey, encoding: .utf8)))
            } catch {
                throw CommandFailure("the CA certificate \(configuration.caCertificate.path) and key \(configuration.caPrivateKey.path) do not load as a P-256 pair: \(error)")
            }
            let registry: any CARegistry
            var postgresClient: Task<Void, Never>?
            switch configuration.registry {
            case .embedded(let file):
                registry = try FileCARegistry(file: file)
            case .postgres(let postgres):
                let tls = try PostgresTLS(rootCAs: postgres.tls.rootCAs, clientCertificate: postgres.tls.certificate, clientPrivateKey: postgres.tls.privateKey).configuration()
                var settings = PostgresClient.Configuration(
                    host: postgres.host, port: postgres.port, username: postgres.user,
                    password: ProcessInfo.processInfo.environment["MEDREX_CA_POSTGRES_PASSWORD"], database: postgres.database, tls: .require(tls))
                settings.options.maximumConnections = 8
                let client = PostgresClient(configuration: settings)
                let running = Task { await client.run() }
                do {
                    registry = try await PostgresCARegistry.open(client: client, logger: logger)
                } catch {
                    running.cancel()
                    throw error
                }
                postgresClient = running
            }
            let enrollment = EnrollmentAuthority(name: configuration.name, authority: authority, registry: registry, validityDays: configuration.certificateValidityDays)
            try await enrollment.bootstrap(id: configuration.registrarID, secret: configuration.registrarSecret)
            let application = try EnrollmentCAServer(authority: enrollment, logger: logger).application(
                host: configuration.listenHost, port: configuration.listenPort, certificate: configuration.tlsCertificate, privateKey: configuration.tlsPrivateKey
            ) { port in
                logger.notice("enrollment CA serving", metadata: ["name": "\(configuration.name)", "address": "\(configuration.listenHost):\(port)"])
            }
            defer { postgresClient?.cancel() }
            try await application.runService()
        }
    }

    /// Where the CA is and how its TLS certificate is checked.
    struct Server: ParsableArguments {
        @Option(help: "The CA's address: https://host:port (enroll: https://ID:SECRET@host:port).") var url: String
        @Option(help: "The CA server's TLS root certificate (PEM).") var tlsCA: String

        func client() throws -> (EnrollmentCAClient, URLComponents) {
            guard let components = URLComponents(string: url), components.scheme == "https", let host = components.host else {
                throw ValidationError("--url must be https://host:port")
            }
            let base = "https://\(host)\(components.port.map { ":\($0)" } ?? "")"
            return (try EnrollmentCAClient(baseURL: base, trustedCA: URL(fileURLWithPath: tlsCA)), components)
        }
    }

    /// The caller's MSP folder (its certificate and key sign the request).
    static func enrollment(msp: String, caChain: String = "") throws -> EnrollmentCAClient.Enrollment {
        let folder = CryptoMaterialLayout.MSPFolder(directory: URL(fileURLWithPath: msp))
        do {
            let certificate = try Certificate(pemEncoded: String(contentsOf: folder.signingCertificate, encoding: .utf8))
            let key = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: folder.privateKey, encoding: .utf8))
            let chain = (try? String(contentsOf: folder.caCertificate, encoding: .utf8)) ?? caChain
            return EnrollmentCAClient.Enrollment(certificate: certificate, privateKey: key, caChainPEM: chain)
        } catch {
            throw CommandFailure("the MSP folder \(msp) has no signcerts/cert.pem and keystore/key.pem that load: \(error)")
        }
    }

    static func write(_ enrollment: EnrollmentCAClient.Enrollment, to msp: String) throws {
        try EnrolledMSPWriter.write(
            certificatePEM: try enrollment.certificate.serializeAsPEM().pemString, privateKeyPEM: enrollment.privateKey.pemRepresentation,
            caChainPEM: enrollment.caChainPEM, to: CryptoMaterialLayout.MSPFolder(directory: URL(fileURLWithPath: msp)))
    }

    static func attributeRequests(_ texts: [String]) -> [FabricCAMessages.AttributeRequest]? {
        texts.isEmpty ? nil : texts.map { text in
            text.hasSuffix(":opt") ? .init(name: String(text.dropLast(4)), optional: true) : .init(name: text, optional: false)
        }
    }

    /// Runs `work` with the client; the CA's refusals become the command's error.
    static func calling<T>(_ client: EnrollmentCAClient, _ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let error as EnrollmentCAClientError {
            throw CommandFailure(error.description)
        }
    }

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enroll with an enrollment id and secret: a key made here, a CSR sent, the certificate written as an MSP folder.")
        @OptionGroup var server: Server
        @Option(help: "The MSP folder to write (signcerts, keystore, cacerts, config.yaml).") var msp: String
        @Option(help: "An attribute to put into the certificate, NAME or NAME:opt (repeatable; default: the ecert attributes).") var attribute: [String] = []

        func run() async throws {
            let (client, components) = try server.client()
            guard let id = components.user, let secret = components.password else { throw ValidationError("--url must carry the enrollment id and secret: https://ID:SECRET@host:port") }
            let enrollment = try await CACommand.calling(client) { try await client.enroll(id: id, secret: secret, attributes: CACommand.attributeRequests(attribute)) }
            try CACommand.write(enrollment, to: msp)
            print("enrolled '\(id)': certificate serial \(EnrollmentAuthority.serial(enrollment.certificate)), written to \(msp)")
        }
    }

    struct Reenroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Get a new certificate and key for the identity of an MSP folder (rewritten in place).")
        @OptionGroup var server: Server
        @Option(help: "The identity's MSP folder.") var msp: String
        @Option(help: "An attribute to put into the certificate, NAME or NAME:opt (repeatable).") var attribute: [String] = []

        func run() async throws {
            let (client, _) = try server.client()
            let caller = try CACommand.enrollment(msp: msp)
            let enrollment = try await CACommand.calling(client) { try await client.reenroll(caller, attributes: CACommand.attributeRequests(attribute)) }
            try CACommand.write(enrollment, to: msp)
            print("reenrolled: certificate serial \(EnrollmentAuthority.serial(enrollment.certificate)), written to \(msp)")
        }
    }

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register an identity (as a registrar); prints its enrollment secret.")
        @OptionGroup var server: Server
        @Option(help: "The registrar's MSP folder.") var msp: String
        @Option(help: "The new identity's enrollment id.") var name: String
        @Option(help: "client, peer, orderer or admin.") var type = "client"
        @Option(help: "Its secret (default: a generated one, printed).") var secret: String?
        @Option(help: "How many enrollments the secret allows (-1: unlimited; default 1).") var maxEnrollments: Int?
        @Option(help: "Its affiliation.") var affiliation = ""
        @Option(help: "An attribute NAME=VALUE, with :ecert to put it into certificates by default (repeatable), e.g. role=consulting_doctor:ecert.") var attribute: [String] = []

        func run() async throws {
            let (client, _) = try server.client()
            let registrar = try CACommand.enrollment(msp: msp)
            let attributes = try attribute.map { text -> FabricCAMessages.Attribute in
                var body = text
                let ecert = body.hasSuffix(":ecert")
                if ecert { body.removeLast(6) }
                guard let equals = body.firstIndex(of: "="), equals != body.startIndex else { throw ValidationError("--attribute must be NAME=VALUE[:ecert], got '\(text)'") }
                return .init(name: String(body[..<equals]), value: String(body[body.index(after: equals)...]), ecert: ecert)
            }
            let issued = try await CACommand.calling(client) {
                try await client.register(
                    FabricCAMessages.RegisterRequest(id: name, type: type, secret: secret, maxEnrollments: maxEnrollments, affiliation: affiliation, attributes: attributes),
                    by: registrar)
            }
            print("registered '\(name)' (\(type)); enrollment secret: \(issued)")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an identity (all its certificates) or one certificate, as a revoker; optionally write the new CRL.")
        @OptionGroup var server: Server
        @Option(help: "The revoker's MSP folder.") var msp: String
        @Option(help: "The identity to revoke.") var name: String?
        @Option(help: "The serial number (hex) of one certificate to revoke.") var serial: String?
        @Option(help: "The reason: keycompromise, affiliationchange, superseded, cessationofoperation, privilegewithdrawn, ...") var reason = "unspecified"
        @Option(help: "Write the CA's CRL after the revocation here (PEM), for `medrex channel update --crl`.") var crlOutput: String?

        func run() async throws {
            guard name != nil || serial != nil else { throw ValidationError("give --name or --serial") }
            let (client, _) = try server.client()
            let revoker = try CACommand.enrollment(msp: msp)
            let result = try await CACommand.calling(client) {
                try await client.revoke(FabricCAMessages.RevokeRequest(id: name, serial: serial, reason: reason, generateCRL: crlOutput != nil), by: revoker)
            }
            print("revoked \(result.revokedCertificates.count) certificate(s): \(result.revokedCertificates.map(\.serial).joined(separator: ", "))")
            if let crlOutput, let crl = result.crl, let pem = Data(base64Encoded: crl) {
                try pem.write(to: URL(fileURLWithPath: crlOutput))
                print("CRL written to \(crlOutput)")
            }
        }
    }

    struct GenerateCRL: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "gencrl", abstract: "Write the CA's current CRL (PEM).")
        @OptionGroup var server: Server
        @Option(help: "The caller's MSP folder (an identity with hf.GenCRL=true).") var msp: String
        @Option(help: "Where to write the CRL.") var output: String

        func run() async throws {
            let (client, _) = try server.client()
            let caller = try CACommand.enrollment(msp: msp)
            let pem = try await CACommand.calling(client) { try await client.generateCRL(by: caller) }
            try Data(pem.utf8).write(to: URL(fileURLWithPath: output))
            print("CRL written to \(output)")
        }
    }
}
