import EnrollmentCA
import Foundation
import Identity
import OffChainStore
import PostgresNIO
import Testing
import TestSupport

/// The CA registry's contract, on the embedded file and on a real PostgreSQL server.
@Suite(.serialized) struct CARegistryTests {
    static func contract(_ registry: any CARegistry) async throws {
        let identity = RegisteredIdentity(
            id: "dr-new", type: "client", affiliation: "", attributes: [.init(name: "role", value: "consulting_doctor", ecert: true)], maxEnrollments: 3,
            secretHash: RegisteredIdentity.hash(secret: "s3cret"))
        try await registry.insert(identity)
        let duplicate = await #expect(throws: EnrollmentError.self) { try await registry.insert(identity) }
        #expect(duplicate?.code == .conflict)
        #expect(try await registry.identity("dr-new")?.attribute("role") == "consulting_doctor")
        #expect(try await registry.identity("nobody") == nil)
        // A wrong secret counts nothing; concurrent enrollments never exceed the maximum.
        #expect((await #expect(throws: EnrollmentError.self) { _ = try await registry.consumeEnrollment(of: "dr-new", secret: "wrong") })?.code == .unauthorized)
        let successes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 { group.addTask { (try? await registry.consumeEnrollment(of: "dr-new", secret: "s3cret")) != nil } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(successes == 3)
        #expect(try await registry.identity("dr-new")?.enrollments == 3)
        #expect((await #expect(throws: EnrollmentError.self) { _ = try await registry.consumeEnrollment(of: "dr-new", secret: "s3cret") })?.code == .exhausted)
        // Certificates, their revocation, and the CRL's view of them.
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        for (serial, days) in [("0a", 30.0), ("0b", 30.0), ("0c", -1.0)] {
            try await registry.addCertificate(IssuedCertificate(serial: serial, id: "dr-new", pem: "PEM \(serial)", notAfter: now.addingTimeInterval(days * 86_400)))
        }
        #expect(try await registry.certificates(of: "dr-new").map(\.serial) == ["0a", "0b", "0c"])
        #expect(try await registry.certificate(serial: "0b")?.pem == "PEM 0b")
        let first = try await registry.revoke(serials: ["0a"], identity: nil, at: now, reason: "superseded")
        #expect(first.map(\.serial) == ["0a"] && first.first?.reason == "superseded")
        #expect(try await registry.identity("dr-new")?.revoked == false)
        let all = try await registry.revoke(serials: ["0a", "0b", "0c"], identity: "dr-new", at: now, reason: "keycompromise")
        #expect(all.map(\.serial) == ["0b", "0c"])
        #expect(try await registry.identity("dr-new")?.revoked == true)
        // The expired one is no longer listed.
        #expect(try await registry.revokedCertificates(notExpiredAt: now).map(\.serial) == ["0a", "0b"])
        #expect(try await registry.certificate(serial: "0a")?.revokedAt == now)
    }

    @Test func theEmbeddedRegistryKeepsTheContractAndSurvivesAReopen() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-ca-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("registry.json")
        try await Self.contract(try FileCARegistry(file: file))
        let reopened = try FileCARegistry(file: file)
        #expect(try await reopened.identity("dr-new")?.revoked == true)
        #expect(try await reopened.certificates(of: "dr-new").count == 3)
        // A registry file that is not one is refused, not replaced.
        try Data("{not json".utf8).write(to: file)
        #expect(throws: EnrollmentError.self) { _ = try FileCARegistry(file: file) }
    }

    @Test func thePostgresRegistryKeepsTheContract() async throws {
        let server = try await PostgresServer.start(database: "medrex_ca", timeout: .seconds(90))
        defer { server.stop() }
        var configuration = PostgresClient.Configuration(
            host: "127.0.0.1", port: server.port, username: server.username, password: nil, database: "medrex_ca",
            tls: .require(try PostgresTLS(rootCAs: [server.caCertificate]).configuration()))
        configuration.options.maximumConnections = 8
        let client = PostgresClient(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await Self.contract(try await PostgresCARegistry.open(client: client))
            // Opened again (tables exist): the same data.
            let again = try await PostgresCARegistry.open(client: client)
            #expect(try await again.identity("dr-new")?.revoked == true)
        }
    }

    /// Registrars register within their own affiliation and the types and attributes they may give.
    @Test func registrarsAreBoundByTheirAffiliationRolesAndAttributes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-ca-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let ca = try CertificateAuthority.makeRoot(
            commonName: "ca.rules.test", organization: "rules.test", notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(86_400))
        let authority = EnrollmentAuthority(name: "ca-rules", authority: ca, registry: try FileCARegistry(file: directory.appendingPathComponent("registry.json")))
        try await authority.bootstrap(id: "admin", secret: "pw")
        let root = try #require(try await authority.registry.identity("admin"))
        // The root registrar makes a cardiology registrar for clients only, giving role and specialty.
        _ = try await authority.register(
            .init(id: "cardio-registrar", type: "client", secret: "x", affiliation: "hospital-a.cardiology",
                  attributes: [.init(name: "hf.Registrar.Roles", value: "client", ecert: true), .init(name: "hf.Registrar.Attributes", value: "role,specialty", ecert: true)]),
            by: root)
        let cardio = try #require(try await authority.registry.identity("cardio-registrar"))
        _ = try await authority.register(.init(id: "dr-ward4", affiliation: "hospital-a.cardiology.ward4", attributes: [.init(name: "role", value: "nurse", ecert: true)]), by: cardio)
        #expect(try await authority.registry.identity("dr-ward4")?.affiliation == "hospital-a.cardiology.ward4")
        _ = try await authority.register(.init(id: "dr-default"), by: cardio)
        #expect(try await authority.registry.identity("dr-default")?.affiliation == "hospital-a.cardiology")
        func refusal(_ registration: EnrollmentAuthority.Registration) async -> EnrollmentError? {
            await #expect(throws: EnrollmentError.self) { _ = try await authority.register(registration, by: cardio) }
        }
        #expect(await refusal(.init(id: "dr-onc", affiliation: "hospital-a.oncology"))?.code == .forbidden)
        #expect(await refusal(.init(id: "dr-root", affiliation: "."))?.code == .forbidden)
        #expect(await refusal(.init(id: "dr-prefix", affiliation: "hospital-a.cardiologyx"))?.code == .forbidden)
        #expect(await refusal(.init(id: "peer9", type: "peer"))?.code == .forbidden)
        #expect(await refusal(.init(id: "dr-hf", attributes: [.init(name: "hf.Revoker", value: "true", ecert: true)]))?.code == .forbidden)
        #expect(await refusal(.init(id: "dr-attr", attributes: [.init(name: "is_supervisor", value: "true", ecert: true)]))?.code == .forbidden)
        #expect(await refusal(.init(id: "dr-self", attributes: [.init(name: "hf.EnrollmentID", value: "x", ecert: true)]))?.code == .badRequest)
        #expect(await refusal(.init(id: "bad id with spaces"))?.code == .badRequest)
        #expect(await refusal(.init(id: "dr-ward4"))?.code == .conflict)
        // A registrar that is not a revoker may revoke only itself.
        #expect((await #expect(throws: EnrollmentError.self) { _ = try await authority.revoke(id: "dr-ward4", serial: nil, reason: "keycompromise", by: cardio) })?.code == .forbidden)
        #expect(try await authority.revoke(id: "cardio-registrar", serial: nil, reason: "superseded", by: cardio).isEmpty)
        #expect(try await authority.registry.identity("cardio-registrar")?.revoked == true)
    }
}
