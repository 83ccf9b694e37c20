import Foundation
import Logging
import NIOSSL
import PostgresNIO
import TestSupport
import Testing

@testable import OffChainStore

/// The PHI store's link to PostgreSQL is TLS with the server's certificate verified: the test
/// server refuses plaintext TCP, and the client refuses a server it cannot authenticate.
@Suite(.postgresServer, .timeLimit(.minutes(2)))
struct PostgresTLSTests {
    /// Opens one connection and asks whether it is encrypted; the error if it cannot connect.
    static func connect(
        port: Int, host: String = "127.0.0.1", database: String, tls: PostgresConnection.Configuration.TLS
    ) async throws -> Bool {
        let configuration = PostgresConnection.Configuration(
            host: host, port: port, username: "postgres", password: nil, database: database, tls: tls)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "postgres-tls-test"))
        defer { Task { try? await connection.close() } }
        let rows = try await connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: Logger(label: "postgres-tls-test"))
        var encrypted: [Bool] = []
        for try await value in rows.decode(Bool.self) { encrypted.append(value) }
        return encrypted == [true]
    }

    static func sharedServer() async throws -> PostgresServer {
        guard let shared = SharedPostgresServer.current else { throw PostgresServerError("the suite needs the .postgresServer trait") }
        return try await shared.get()
    }

    @Test func theStoresConnectionIsEncryptedAndVerified() async throws {
        let server = try await Self.sharedServer()
        let tls = try PostgresTLS(rootCAs: [server.caCertificate]).configuration()
        let encrypted = try await Self.connect(port: server.port, database: server.database, tls: .require(try NIOSSLContext(configuration: tls)))
        #expect(encrypted)
    }

    @Test func theServerRefusesPlaintext() async throws {
        let server = try await Self.sharedServer()
        let error = await #expect(throws: PSQLError.self) {
            _ = try await Self.connect(port: server.port, database: server.database, tls: .disable)
        }
        // pg_hba.conf's `hostnossl ... reject`: the server names the refusal.
        #expect(String(reflecting: error).contains("no encryption") || String(reflecting: error).contains("pg_hba.conf"))
    }

    @Test func theClientRefusesAServerCertificateFromAnotherCA() async throws {
        let server = try await Self.sharedServer()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pg-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let stranger = try EtcdCluster.standaloneTLS(in: directory, name: "stranger")
        let tls = try PostgresTLS(rootCAs: stranger.trustedCAs).configuration()
        let error = await #expect(throws: (any Error).self) {
            _ = try await Self.connect(port: server.port, database: server.database, tls: .require(try NIOSSLContext(configuration: tls)))
        }
        #expect(String(reflecting: error).contains("CERTIFICATE_VERIFY_FAILED") || String(reflecting: error).contains("certificate"))
    }

    @Test func theClientRefusesACertificateForAnotherHost() async throws {
        // A certificate from the trusted CA, but for another name than the address dialled.
        let server = try await PostgresServer.start(database: "medrex_tls", serverNames: ["db.hospital-a.test"], timeout: .seconds(90))
        defer { server.stop() }
        let tls = try PostgresTLS(rootCAs: [server.caCertificate]).configuration()
        let error = await #expect(throws: (any Error).self) {
            _ = try await Self.connect(port: server.port, database: server.database, tls: .require(try NIOSSLContext(configuration: tls)))
        }
        #expect(String(reflecting: error).lowercased().contains("hostname") || String(reflecting: error).contains("unableToValidateCertificate"))
    }

    @Test func unusableTLSFilesAreClearErrors() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pg-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing-ca.pem")
        let garbage = directory.appendingPathComponent("garbage.pem")
        try Data("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".utf8).write(to: garbage)
        let pair = try EtcdCluster.standaloneTLS(in: directory, name: "client")

        #expect(throws: OffChainStoreError.self) { _ = try PostgresTLS(rootCAs: []).configuration() }
        var error = #expect(throws: OffChainStoreError.self) { _ = try PostgresTLS(rootCAs: [missing]).configuration() }
        #expect(error?.code == .invalidArgument && error?.reason.contains(missing.path) == true)
        error = #expect(throws: OffChainStoreError.self) { _ = try PostgresTLS(rootCAs: [garbage]).configuration() }
        #expect(error?.reason.contains(garbage.path) == true)
        error = #expect(throws: OffChainStoreError.self) {
            _ = try PostgresTLS(rootCAs: pair.trustedCAs, clientCertificate: pair.certificate).configuration()
        }
        #expect(error?.reason.contains("both") == true)
        // A certificate with a key that is not its own.
        let other = try EtcdCluster.standaloneTLS(in: directory, name: "other")
        error = #expect(throws: OffChainStoreError.self) {
            _ = try PostgresTLS(rootCAs: pair.trustedCAs, clientCertificate: pair.certificate, clientPrivateKey: other.privateKey).configuration()
        }
        #expect(error?.code == .invalidArgument)
        // A matching pair loads.
        _ = try PostgresTLS(rootCAs: pair.trustedCAs, clientCertificate: pair.certificate, clientPrivateKey: pair.privateKey).configuration()
    }
}
