import Foundation
import GRPCCore
import Synchronization
import HealthChaincodes
import LedgerWire
import NetworkConfig
import NodeClients
import OffChainStore
import PostgresNIO
import TestSupport
import Testing

/// The custodian's side of PHI with real processes: HospitalA's peer keeps its records in a
/// throwaway PostgreSQL server and its custodian key in a SoftHSM token. Key rotation under a read
/// load and across a restart of the peer; patient-contributed records; erasure by the patient and
/// by the privacy officer, after which no byte of the record is left in PostgreSQL's data files.
@Suite(.serialized) struct PhiCustodyEndToEndTests {
    static let alice = "HospitalAMSP/patient-alice@hospital-a.test"
    static let bob = "HospitalAMSP/patient-bob@hospital-a.test"

    static func record(id: String, patient: String = alice, note: String) -> Data {
        Data(
            """
            {"resourceType": "Observation", "id": "\(id)", "status": "final",
             "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
             "subject": {"reference": "Patient/alice", "identifier": {"system": "urn:medrex:person", "value": "\(patient)"}},
             "note": [{"text": "\(note)"}]}
            """.utf8)
    }

    /// The network: HospitalA's PHI on PostgreSQL with its key in the `medrex-peers` token under a
    /// label of this test's own, re-wrapping slowly (so a test can catch a rotation half-way).
    static func start(postgres: PostgresServer, keysPerSecond: Int) async throws -> (LocalTestNetwork, PhiNetwork) {
        try SoftHSM.prepare(tokens: SoftHSM.testTokens)
        let pinFile = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-pin-\(UUID().uuidString.prefix(8))")
        try SoftHSM.userPIN.write(to: pinFile, atomically: true, encoding: .utf8)
        var options = LocalTestNetwork.Options()
        options.extraUsers = [
            "HospitalA": [
                "{ name: patient-alice, attributes: { role: patient, hospital: HospitalA } }",
                "{ name: patient-bob, attributes: { role: patient, hospital: HospitalA } }",
                "{ name: operator-olsen, attributes: { role: operator, hospital: HospitalA } }",
                "{ name: privacy-pia, attributes: { role: operator, privacy_officer: \"true\", hospital: HospitalA } }",
            ],
            "HospitalB": ["{ name: auditor-ames, attributes: { role: auditor, hospital: HospitalB } }"],
        ]
        options.phiOrganizations = ["HospitalA"]
        options.phiPostgres["HospitalA"] = NetworkRenderer.PostgresServer(
            host: "127.0.0.1", port: postgres.port, user: postgres.username, database: "medrex_phi", rootCA: postgres.caCertificate.path)
        options.phiHSM["HospitalA"] = PhiSettings.HSM(
            library: SoftHSM.library, token: "medrex-peers", keyLabel: "custody-\(UUID().uuidString.prefix(8).lowercased())", pinFile: pinFile)
        options.phiRewrap = PhiSettings.Rewrap(batchSize: 6, keysPerSecond: keysPerSecond)
        options.builtInChaincodes = ["phi", "access", "audit", "clinical", "vitals"]
        let network = try await LocalTestNetwork.start(options)
        return (network, PhiNetwork(network: network))
    }

    static func keys(_ phi: PhiNetwork) async throws -> Medrex_PhiKeysResponse {
        try await phi.client("operator-olsen", "HospitalA") { try await $0.keys(rotate: false) }
    }

    /// Waits until every data key is under `version` and older versions are retired.
    static func waitForRotation(to version: UInt32, keys count: UInt64, _ phi: PhiNetwork) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if let status = try? await keys(phi), status.versions.map(\.version) == [version], status.versions[0].wrappedKeys == count { return }
            try await Task.sleep(for: .milliseconds(300))
        }
        Issue.record("the rotation to version \(version) did not finish: \(String(describing: try? await keys(phi)))")
    }

    @Test func rotationUnderReadLoadAndAcrossARestart() async throws {
        let postgres = try await PostgresServer.start(database: "medrex_phi")
        defer { postgres.stop() }
        let (network, phi) = try await Self.start(postgres: postgres, keysPerSecond: 6)
        defer { network.stopAll() }

        let ids = (1...18).map { "obs-\($0)" }
        // The first anchor of a patient writes the patient's index keys; later ones only read them,
        // so they can commit in one block.
        _ = try await phi.client("operator-olsen", "HospitalA") {
            try await $0.put(json: Self.record(id: ids[0], note: "reading \(ids[0])"), patient: Self.alice, custodian: "HospitalAMSP")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in ids.dropFirst() {
                group.addTask {
                    _ = try await phi.client("operator-olsen", "HospitalA") {
                        try await $0.put(json: Self.record(id: id, note: "reading \(id)"), patient: Self.alice, custodian: "HospitalAMSP")
                    }
                }
            }
            try await group.waitForAll()
        }
        let first = try await Self.keys(phi)
        #expect(first.location == "PKCS#11 token 'medrex-peers'")
        #expect(first.currentVersion == 1)
        #expect(first.versions.map(\.wrappedKeys) == [18])
        // Only the custodian's admins and operators manage its key.
        let refused = await #expect(throws: RPCError.self) { _ = try await phi.client("patient-alice", "HospitalA") { try await $0.keys(rotate: true) } }
        #expect(refused?.code == .permissionDenied)

        // Reads go on while the data keys are re-wrapped: none may fail.
        let keepReading = Atomic<Bool>(true)
        let reading = Task {
            var reads = 0
            var failures: [String] = []
            while keepReading.load(ordering: .relaxed) {
                let id = ids[reads % ids.count]
                do {
                    _ = try await phi.client("operator-olsen", "HospitalA") { try await $0.get(recordID: id, version: 1) }
                } catch {
                    failures.append("\(id): \(error)")
                }
                reads += 1
            }
            return (reads, failures)
        }
        let rotated = try await phi.client("operator-olsen", "HospitalA") { try await $0.keys(rotate: true) }
        #expect(rotated.currentVersion == 2)
        try await Self.waitForRotation(to: 2, keys: 18, phi)
        keepReading.store(false, ordering: .relaxed)
        let (reads, failures) = await reading.value
        #expect(reads >= 5, "only \(reads) reads ran during the rotation")
        #expect(failures.isEmpty, "\(failures)")

        // The chain holds the rotation, one entry per re-wrapped batch, and the retirement.
        let events = try JSONDecoder().decode(
            [KeyEvent].self, from: try await phi.evaluate("auditor-ames", "HospitalB", PhiContract.name, ["keyEvents", "HospitalAMSP"]))
        #expect(events.first?.event == "rotated")
        #expect(events.filter { $0.event == "rewrapped" }.reduce(0) { $0 + Int($1.count ?? 0) } == 18)
        #expect(events.filter { $0.event == "rewrapped" }.count >= 3)
        #expect(events.last.map { "\($0.event) \($0.keyVersion)" } == "retired 1")

        // A second rotation, with the peer restarted half-way: it resumes where the store says.
        _ = try await phi.client("operator-olsen", "HospitalA") { try await $0.keys(rotate: true) }
        let halfway = ContinuousClock.now + .seconds(60)
        var caught = false
        while !caught, ContinuousClock.now < halfway {
            if let status = try? await Self.keys(phi), let old = status.versions.first(where: { $0.version == 2 }), old.wrappedKeys > 0, old.wrappedKeys < 18 {
                caught = true
            } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(caught, "the rotation was never seen half-way")
        network.peers[0].process.stop()
        try network.peers[0].process.start()
        try await network.waitUntilHealthy(operationsPort: network.peers[0].operationsPort)
        try await Self.waitForRotation(to: 3, keys: 18, phi)
        for id in ids.prefix(3) {
            let (json, _, _) = try await phi.client("operator-olsen", "HospitalA") { try await $0.get(recordID: id, version: 1) }
            #expect(String(decoding: json, as: UTF8.self).contains("reading \(id)"))
        }
    }

    @Test func patientContributionsAndErasureLeaveNoByteBehind() async throws {
        let postgres = try await PostgresServer.start(database: "medrex_phi")
        defer { postgres.stop() }
        let (network, phi) = try await Self.start(postgres: postgres, keysPerSecond: 1000)
        defer { network.stopAll() }

        // A patient contributes a record about herself, not about someone else.
        let home = try await phi.client("patient-alice", "HospitalA") {
            try await $0.put(json: Self.record(id: "home-1", note: "home blood pressure"), patient: Self.alice, custodian: "HospitalAMSP")
        }
        #expect(home.version == 1)
        let aboutBob = await #expect(throws: (any Error).self) {
            _ = try await phi.client("patient-alice", "HospitalA") {
                try await $0.put(json: Self.record(id: "home-2", patient: Self.bob, note: "not mine"), patient: Self.bob, custodian: "HospitalAMSP")
            }
        }
        #expect("\(aboutBob!)".contains("only about themself"))
        // The record's patient element must name the anchor's patient.
        let mismatch = await #expect(throws: RPCError.self) {
            _ = try await phi.client("operator-olsen", "HospitalA") {
                try await $0.put(json: Self.record(id: "lab-9", patient: Self.bob, note: "mismatch"), patient: Self.alice, custodian: "HospitalAMSP")
            }
        }
        #expect(mismatch?.code == .invalidArgument)
        let lab = try await phi.client("operator-olsen", "HospitalA") {
            try await $0.put(json: Self.record(id: "lab-1", note: "staff entered"), patient: Self.alice, custodian: "HospitalAMSP")
        }
        #expect(lab.version == 1)
        let history = try await phi.client("auditor-ames", "HospitalB") { try await $0.history(recordID: "home-1") }
        #expect(history.map(\.anchor.source) == ["patient"])
        let (own, _, _) = try await phi.client("patient-alice", "HospitalA") { try await $0.get(recordID: "home-1", version: 1) }
        #expect(String(decoding: own, as: UTF8.self).contains("home blood pressure"))

        // The stored bytes of home-1, to look for after the erasure (and found before it).
        let (ciphertext, wrappedKey) = try await Self.storedBytes(postgres, recordID: "home-1")
        try await Self.vacuum(postgres)
        #expect(Self.filesContaining(ciphertext.prefix(32), under: postgres.dataDirectory.appendingPathComponent("base")) > 0)

        // Another patient, or the patient on a staff record, may not erase.
        await #expect(throws: (any Error).self) {
            _ = try await phi.client("patient-bob", "HospitalA") { try await $0.erase(recordID: "home-1", version: 1, reason: "patient-request") }
        }
        let staffRecord = await #expect(throws: RPCError.self) {
            _ = try await phi.client("patient-alice", "HospitalA") { try await $0.erase(recordID: "lab-1", version: nil, reason: "patient-request") }
        }
        #expect(staffRecord?.message.contains("entered by staff") == true)

        let (entries, txID) = try await phi.client("patient-alice", "HospitalA") {
            try await $0.erase(recordID: "home-1", version: nil, reason: "patient-request")
        }
        #expect(entries.map(\.version) == [1])
        #expect(entries[0].sha256 == home.sha256)
        try await Self.waitUntilGone(postgres, recordID: "home-1")

        // Reads answer "erased" with the entry; verify reports it erased, not tampered; the
        // history and the audit trail show it.
        let read = await #expect(throws: RPCError.self) {
            _ = try await phi.client("patient-alice", "HospitalA") { try await $0.get(recordID: "home-1", version: 1) }
        }
        #expect(read?.code == .notFound)
        #expect(read?.message.contains("was erased at") == true)
        #expect(read?.message.contains(txID) == true)
        let checks = try await phi.client("operator-olsen", "HospitalA") { try await $0.verify(recordID: nil, version: nil, patient: Self.alice) }
        #expect(Set(checks.map { "\($0.recordID) v\($0.version) \($0.status)" }) == ["home-1 v1 erased", "lab-1 v1 intact"])
        #expect(try await phi.client("auditor-ames", "HospitalB") { try await $0.history(recordID: "home-1") }.map(\.state) == ["erased"])
        let trail = try JSONDecoder().decode(
            [AuditEntry].self, from: try await phi.evaluate("auditor-ames", "HospitalB", AuditContract.name, ["byPatient", Self.alice]))
        #expect(trail.contains { $0.action == "erase" && $0.recordID == "home-1" && $0.actor == Self.alice && $0.reason == "patient-request" })

        // The privacy officer erases a staff-entered record.
        _ = try await phi.client("privacy-pia", "HospitalA") { try await $0.erase(recordID: "lab-1", version: 1, reason: "wrong-patient") }
        try await Self.waitUntilGone(postgres, recordID: "lab-1")

        // After VACUUM FULL, no byte of the erased ciphertext or wrapped key is in the data files.
        try await Self.vacuum(postgres)
        let base = postgres.dataDirectory.appendingPathComponent("base")
        #expect(Self.filesContaining(ciphertext.prefix(32), under: base) == 0)
        #expect(Self.filesContaining(wrappedKey, under: base) == 0)
    }

    @Test func everyExampleRecordIsStoredAndReadBack() async throws {
        let postgres = try await PostgresServer.start(database: "medrex_phi")
        defer { postgres.stop() }
        let (network, phi) = try await Self.start(postgres: postgres, keysPerSecond: 1000)
        defer { network.stopAll() }
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Examples/phi")
        let files = try FileManager.default.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count == 12)
        var types: Set<String> = []
        for file in files {
            let json = try Data(contentsOf: examples.appendingPathComponent(file))
            let resource = try FHIRResource(json: json)
            types.insert(resource.resourceType)
            let stored = try await phi.client("operator-olsen", "HospitalA") {
                try await $0.put(json: json, patient: resource.patient, custodian: "HospitalAMSP")
            }
            #expect(stored.sha256 == resource.digestHex, "\(file)")
            let (read, anchor, _) = try await phi.client("operator-olsen", "HospitalA") { try await $0.get(recordID: resource.id, version: stored.version) }
            #expect(read == resource.canonical, "\(file)")
            #expect(anchor.resourceType == resource.resourceType)
        }
        #expect(types == Set(FHIRResource.supportedTypes))
        // A record of another type, or naming another patient than the anchor, is refused.
        for (json, patient) in [
            (Data(#"{"resourceType":"Claim","id":"c-1","patient":{"identifier":{"system":"urn:medrex:person","value":"\#(Self.alice)"}}}"#.utf8), Self.alice),
            (try Data(contentsOf: examples.appendingPathComponent("patient.json")), Self.bob),
        ] {
            let refused = await #expect(throws: (any Error).self) {
                _ = try await phi.client("operator-olsen", "HospitalA") { try await $0.put(json: json, patient: patient, custodian: "HospitalAMSP") }
            }
            #expect(refused != nil)
        }
    }

    // MARK: - PostgreSQL helpers

    static func withClient<T: Sendable>(_ server: PostgresServer, _ body: (PostgresClient) async throws -> T) async throws -> T {
        let configuration = PostgresClient.Configuration(
            host: "127.0.0.1", port: server.port, username: server.username, password: nil, database: "medrex_phi",
            tls: .require(try PostgresTLS(rootCAs: [server.caCertificate]).configuration()))
        let client = PostgresClient(configuration: configuration)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    static func storedBytes(_ server: PostgresServer, recordID: String) async throws -> (ciphertext: Data, wrappedKey: Data) {
        try await withClient(server) { client in
            let rows = try await client.query(
                """
                SELECT r.ciphertext, k.wrapped_key FROM phi_record_versions r JOIN phi_wrapped_keys k USING (record_id, version)
                WHERE r.record_id = \(recordID)
                """)
            for try await (ciphertext, wrapped) in rows.decode((Data, Data).self) { return (ciphertext, wrapped) }
            throw PhiClientError("record \(recordID) is not stored")
        }
    }

    static func waitUntilGone(_ server: PostgresServer, recordID: String) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let count = try await withClient(server) { client in
                var count = 0
                for try await _ in try await client.query("SELECT version FROM phi_record_versions WHERE record_id = \(recordID)") { count += 1 }
                return count
            }
            if count == 0 { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("record \(recordID) was not destroyed in PostgreSQL")
    }

    static func vacuum(_ server: PostgresServer) async throws {
        try await withClient(server) { client in
            try await client.query("VACUUM FULL phi_record_versions")
            try await client.query("VACUUM FULL phi_wrapped_keys")
            try await client.query("CHECKPOINT")
        }
    }

    /// How many regular files under `root` contain `needle`.
    static func filesContaining(_ needle: Data, under root: URL) -> Int {
        guard let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return 0 }
        var count = 0
        for case let file as URL in files where (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            if let bytes = try? Data(contentsOf: file), bytes.range(of: needle) != nil { count += 1 }
        }
        return count
    }
}
