import Foundation
import Testing

@testable import NetworkConfig

/// `phi:` of peer.yaml: a PostgreSQL store is reached over TLS only, so its section must say which
/// CAs the server's certificate comes from.
struct PhiSettingsTests {
    static func peer(phi: String) throws(ConfigError) -> PeerConfiguration {
        try PeerConfiguration.parse(
            yaml: """
                mspID: HospitalAMSP
                msp: msp
                listen: 127.0.0.1:7051
                tls:
                  certificate: tls/cert.crt
                  privateKey: tls/key.pem
                  clientRootCAs: [ca.pem]
                data: data
                roles: [endorser, committer]
                phi:
                  channel: carechannel
                \(phi)
                """, file: "peer.yaml", baseDirectory: URL(fileURLWithPath: "/etc/medrex"))
    }

    @Test func aPostgresStoreCarriesItsTLSFiles() throws {
        let configuration = try Self.peer(
            phi: """
                  store: postgres
                  postgres:
                    host: db.hospital-a.test
                    user: medrex
                    database: phi
                    tls: { rootCAs: [pg/ca.pem], certificate: pg/client.pem, privateKey: pg/client-key.pem }
                """)
        guard case .postgres(let postgres) = configuration.phi?.store else {
            Issue.record("expected a postgres store, got \(String(describing: configuration.phi?.store))")
            return
        }
        #expect(postgres.host == "db.hospital-a.test" && postgres.port == 5432 && postgres.user == "medrex" && postgres.database == "phi")
        #expect(postgres.tls.rootCAs.map(\.path) == ["/etc/medrex/pg/ca.pem"])
        #expect(postgres.tls.certificate?.path == "/etc/medrex/pg/client.pem")
        #expect(postgres.tls.privateKey?.path == "/etc/medrex/pg/client-key.pem")
    }

    @Test(arguments: [
        // No TLS section: PHI never travels in plaintext.
        ("postgres: { host: db, user: u, database: d }", "postgres.tls is required"),
        ("postgres: { host: db, user: u, database: d, tls: {} }", "rootCAs"),
        ("postgres: { host: db, user: u, database: d, tls: { rootCAs: [] } }", "at least one CA"),
        ("postgres: { host: db, user: u, database: d, tls: { rootCAs: [ca.pem], certificate: c.pem } }", "both certificate and privateKey"),
        ("postgres: { host: db, user: u, database: d, tls: { rootCAs: [ca.pem], privateKey: k.pem } }", "both certificate and privateKey"),
        ("postgres: { host: db, user: u, database: d, tls: { rootCAs: [ca.pem], sslmode: disable } }", "sslmode"),
        ("postgres: { host: db, port: 70000, user: u, database: d, tls: { rootCAs: [ca.pem] } }", "port"),
    ])
    func badPostgresSettingsAreRefused(postgres: String, expected: String) {
        let error = #expect(throws: ConfigError.self) {
            _ = try Self.peer(phi: "  store: postgres\n  \(postgres)")
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains(expected), "\(text) does not mention \(expected)")
    }

    @Test func custodianKeysInAPKCS11TokenAndTheRewrapPace() throws {
        let configuration = try Self.peer(
            phi: """
                  hsm: { library: /usr/lib/softhsm/libsofthsm2.so, token: HospitalA-PHI, keyLabel: hospital-a-custodian, pinFile: secrets/hsm-pin }
                  rewrap: { batchSize: 500, keysPerSecond: 2000 }
                """)
        let phi = try #require(configuration.phi)
        #expect(phi.hsm == PhiSettings.HSM(
            library: "/usr/lib/softhsm/libsofthsm2.so", token: "HospitalA-PHI", keyLabel: "hospital-a-custodian",
            pinFile: URL(fileURLWithPath: "/etc/medrex/secrets/hsm-pin")))
        #expect(phi.rewrap == PhiSettings.Rewrap(batchSize: 500, keysPerSecond: 2000))
        let defaults = try #require(try Self.peer(phi: "  hsm: { library: /lib/p11.so, token: T }").phi)
        #expect(defaults.hsm?.keyLabel == "medrex-custodian")
        #expect(defaults.hsm?.pinFile == nil)
        #expect(defaults.rewrap == PhiSettings.Rewrap())
    }

    @Test(arguments: [
        ("custodianKey: key.pem\n  hsm: { library: /lib/p11.so, token: T }", "not both"),
        ("hsm: { token: T }", "library"),
        ("hsm: { library: /lib/p11.so }", "token"),
        ("hsm: { library: /lib/p11.so, token: T, pin: 1234 }", "pin"),
        ("hsm: { library: /lib/p11.so, token: T, keyLabel: \"has space\" }", "keyLabel"),
        ("rewrap: { batchSize: 0 }", "batchSize"),
        ("rewrap: { keysPerSecond: -1 }", "keysPerSecond"),
    ])
    func badKeySettingsAreRefused(phi: String, expected: String) {
        let error = #expect(throws: ConfigError.self) { _ = try Self.peer(phi: "  " + phi) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains(expected), "\(text) does not mention \(expected)")
    }
}
