import Endorser
import Foundation
import GRPCCore
import HealthChaincodes
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig
import OffChainStore
import PostgresNIO
import RPCTransport
import TestSupport
import Testing
import Committer
import GatewayService
import NodeClients
import PeerDaemon
import PhiService

/// Off-chain PHI with real processes: a solo orderer, HospitalA's peer keeping its records in a
/// throwaway PostgreSQL server, HospitalB's peer in its embedded store; the healthcare chaincodes
/// deciding and auditing every access on the chain.
@Suite(.serialized) struct PhiEndToEndTests {
    /// Distinctive text inside every test record: it must never appear in a block, a log line or
    /// a metric.
    static let marker = "PHI-MARKER-93c1d7"

    static func record(id: String, type: String = "Observation", patient: String = "HospitalAMSP/patient-alice@hospital-a.test", note: String) -> Data {
        Data(
            """
            {"resourceType": "\(type)", "id": "\(id)", "status": "final",
             "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
             "subject": {"reference": "Patient/alice", "identifier": {"system": "urn:medrex:person", "value": "\(patient)"}},
             "note": [{"text": "\(marker) \(note)"}]}
            """.utf8)
    }

    @Test func storesReleasesAuditsAndDetectsTampering() async throws {
        let postgres = try await PostgresServer.start(database: "medrex_phi")
        defer { postgres.stop() }
        var options = LocalTestNetwork.Options()
        options.extraUsers = [
            "HospitalA": [
                "{ name: patient-alice, attributes: { role: patient, hospital: HospitalA } }",
                "{ name: operator-olsen, attributes: { role: operator, hospital: HospitalA } }",
                "{ name: nurse-ng, attributes: { role: nurse, ward_assignment: cardiology-ward-3, hospital: HospitalA } }",
            ],
            "HospitalB": [
                "{ name: dr-bell, attributes: { role: consulting_doctor, specialty: cardiology, hospital: HospitalB } }",
                "{ name: operator-bo, attributes: { role: operator, hospital: HospitalB } }",
                "{ name: auditor-ames, attributes: { role: auditor, hospital: HospitalB } }",
            ],
        ]
        options.phiOrganizations = ["HospitalA", "HospitalB"]
        options.phiPostgres["HospitalA"] = NetworkRenderer.PostgresServer(
            host: "127.0.0.1", port: postgres.port, user: postgres.username, database: "medrex_phi", rootCA: postgres.caCertificate.path)
        options.phiPendingTimeoutSeconds = 10
        options.builtInChaincodes = ["phi", "access", "audit", "clinical", "vitals"]
        let network = try await LocalTestNetwork.start(options)
        defer { network.stopAll() }
        let phi = PhiNetwork(network: network)
        let alice = "HospitalAMSP/patient-alice@hospital-a.test"

        // An operator of HospitalA stores a record; its anchor commits on both peers.
        let stored = try await phi.client("operator-olsen", "HospitalA") {
            try await $0.put(json: Self.record(id: "obs-1", note: "blood pressure 120/80"), patient: alice, custodian: "HospitalAMSP")
        }
        #expect(stored.version == 1)
        let second = try await phi.client("operator-olsen", "HospitalA") {
            try await $0.put(json: Self.record(id: "obs-1", note: "blood pressure 118/79"), patient: alice, custodian: "HospitalAMSP")
        }
        #expect(second.version == 2)
        // A version whose anchor is endorsed but never submitted stays pending (unreadable), and the
        // peer removes it after its pending timeout (10 s here): checked at the end.
        let abandoned = try FHIRResource(json: Self.record(id: "obs-2", note: "never anchored"))
        _ = try await phi.client("operator-olsen", "HospitalA") {
            try await $0.storePending(abandoned, version: 1, patient: alice, custodian: "HospitalAMSP")
        }
        let retry = try FHIRResource(json: Self.record(id: "obs-2", note: "anchored this time"))
        let occupied = await #expect(throws: RPCError.self) {
            _ = try await phi.client("operator-olsen", "HospitalA") { try await $0.storePending(retry, version: 1, patient: alice, custodian: "HospitalAMSP") }
        }
        #expect(occupied?.code == .alreadyExists)

        // The patient reads her own record: decrypted with her key, checked against the anchor.
        let own = try await phi.client("patient-alice", "HospitalA") { try await $0.get(recordID: "obs-1", version: 1) }
        #expect(own.record == (try FHIRResourceCanonical.of(Self.record(id: "obs-1", note: "blood pressure 120/80"))))
        #expect(own.anchor.sha256 == stored.sha256)

        // A doctor of HospitalB is refused without consent (and the refusal is audited) ...
        await phi.expectDenied("dr-bell", "HospitalB", recordID: "obs-1", reason: nil)
        // ... and served once the patient consents.
        try await phi.submit("patient-alice", "HospitalA", AccessContract.name, ["grant", alice, "doctor", "HospitalBMSP/dr-bell@hospital-b.test"])
        let consented = try await phi.client("dr-bell", "HospitalB") { try await $0.get(recordID: "obs-1", version: nil) }
        #expect(consented.anchor.version == 2)
        // Withdrawn consent: refused again.
        try await phi.submit("patient-alice", "HospitalA", AccessContract.name, ["revoke", alice, "doctor", "HospitalBMSP/dr-bell@hospital-b.test"])
        await phi.expectDenied("dr-bell", "HospitalB", recordID: "obs-1", reason: nil)
        // An operator never reaches another hospital's records; an auditor reads audit entries only.
        await phi.expectDenied("operator-bo", "HospitalB", recordID: "obs-1", reason: nil)
        await phi.expectDenied("auditor-ames", "HospitalB", recordID: "obs-1", reason: nil)
        // A nurse: only once the patient is assigned to her ward.
        await phi.expectDenied("nurse-ng", "HospitalA", recordID: "obs-1", reason: nil)
        try await phi.submit("operator-olsen", "HospitalA", AccessContract.name, ["assignWard", alice, "cardiology-ward-3"])
        _ = try await phi.client("nurse-ng", "HospitalA") { try await $0.get(recordID: "obs-1", version: 1) }

        // The audit trail holds granted and denied requests; the auditor and the patient read it.
        let trail = try await phi.evaluate("auditor-ames", "HospitalB", AuditContract.name, ["byPatient", alice])
        let entries = try JSONDecoder().decode([AuditEntry].self, from: trail)
        #expect(entries.contains { $0.decision == "denied" && $0.actor == "HospitalBMSP/dr-bell@hospital-b.test" })
        #expect(entries.contains { $0.decision == "granted" && $0.actor == "HospitalBMSP/dr-bell@hospital-b.test" })
        #expect(entries.contains { $0.decision == "denied" && $0.actor == "HospitalBMSP/operator-bo@hospital-b.test" })
        let ownTrail = try JSONDecoder().decode([AuditEntry].self, from: try await phi.evaluate("patient-alice", "HospitalA", AuditContract.name, ["byPatient", alice]))
        #expect(ownTrail.count == entries.count)
        await #expect(throws: (any Error).self) { _ = try await phi.evaluate("dr-bell", "HospitalB", AuditContract.name, ["byPatient", alice]) }

        // Tampering: one byte of version 1's ciphertext changed in PostgreSQL.
        try await Self.flipCiphertextByte(postgres, recordID: "obs-1", version: 1)
        let tampered = await #expect(throws: RPCError.self) {
            _ = try await phi.client("patient-alice", "HospitalA") { try await $0.get(recordID: "obs-1", version: 1) }
        }
        #expect(tampered?.code == .dataLoss)
        #expect(tampered?.message.contains("integrity error") == true)
        let checks = try await phi.client("operator-olsen", "HospitalA") { try await $0.verify(recordID: nil, version: nil, patient: alice) }
        #expect(Set(checks.map { "\($0.recordID) v\($0.version) \($0.status)" }) == ["obs-1 v1 tampered", "obs-1 v2 intact"])
        let afterTamper = try JSONDecoder().decode([AuditEntry].self, from: try await phi.evaluate("auditor-ames", "HospitalB", AuditContract.name, ["byPatient", alice]))
        #expect(afterTamper.contains { $0.action == "integrity-check" && $0.reason == "ciphertext-mismatch" && $0.recordID == "obs-1" })

        // Invalid input stores nothing: not JSON, or a resource without a subject.
        for bad in [Data("not json".utf8), Data(#"{"resourceType":"Observation","id":"obs-9"}"#.utf8)] {
            await #expect(throws: (any Error).self) {
                _ = try await phi.client("operator-olsen", "HospitalA") { try await $0.put(json: bad, patient: alice, custodian: "HospitalAMSP") }
            }
        }

        // A trainee's order becomes ACTIVE only with the supervisor's co-signature.
        try await phi.submit("student-dev", "HospitalA", ClinicalContract.name, ["createOrder", "order-7", alice, "cardiology", String(repeating: "ab", count: 32)])
        let uncosigned = try await phi.submitCode("dr-shah", "HospitalA", ClinicalContract.name, ["cosignOrder", "order-7"], coSign: false)
        #expect(uncosigned == .endorsementPolicyFailure)
        let cosigned = try await phi.submitCode("dr-shah", "HospitalA", ClinicalContract.name, ["cosignOrder", "order-7"], coSign: true)
        #expect(cosigned == .valid)

        // The abandoned pending version was removed: its number can be stored again.
        let sweptBy = ContinuousClock.now + .seconds(40)
        var swept = false
        while !swept, ContinuousClock.now < sweptBy {
            do {
                _ = try await phi.client("operator-olsen", "HospitalA") { try await $0.storePending(retry, version: 1, patient: alice, custodian: "HospitalAMSP") }
                swept = true
            } catch let error as RPCError where error.code == .alreadyExists {
                try await Task.sleep(for: .seconds(1))
            }
        }
        #expect(swept, "the pending version was never removed")

        // No PHI anywhere on the chain, in logs or metrics, or in PostgreSQL's files.
        try await phi.expectNoPlaintext(Self.marker, also: [postgres.dataDirectory])
    }

    /// Changes one byte of a stored ciphertext, as someone with access to the database could.
    static func flipCiphertextByte(_ server: PostgresServer, recordID: String, version: UInt32) async throws {
        let configuration = PostgresClient.Configuration(
            host: "127.0.0.1", port: server.port, username: server.username, password: nil, database: "medrex_phi",
            tls: .require(try PostgresTLS(rootCAs: [server.caCertificate]).configuration()))
        let client = PostgresClient(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query(
                """
                UPDATE phi_record_versions SET ciphertext = set_byte(ciphertext, 3, get_byte(ciphertext, 3) # 1)
                WHERE record_id = \(recordID) AND version = \(Int64(version))
                """)
        }
    }
}

/// The canonical bytes a record is stored as (what a reader gets back): RFC 8785.
enum FHIRResourceCanonical {
    static func of(_ json: Data) throws -> Data { try FHIRResource(json: json).canonical }
}

/// Clients of the test network's PHI services, as its users.
struct PhiNetwork: Sendable {
    let network: LocalTestNetwork

    private func peerIndex(_ organization: String) -> Int { organization == "HospitalA" ? 0 : 1 }

    /// Runs `body` with a PHI client of `organization`'s peer, as `user`. The record custodian in
    /// these tests is HospitalA, so PHI reads go to its peer whatever the user's organization.
    func client<Result: Sendable>(_ user: String, _ organization: String, peer: Int = 0, _ body: (PhiClient) async throws -> Result) async throws -> Result {
        try await PhiClient.withConnection(
            peer: NodeAddress(host: "127.0.0.1", port: network.peers[peer].port),
            tls: network.clientTLS(org: organization, user: user, trusting: network.peers[peer].organization),
            signer: try network.signer(org: organization, user: user), channel: network.channel, body)
    }

    func expectDenied(_ user: String, _ organization: String, recordID: String, reason: String?, sourceLocation: SourceLocation = #_sourceLocation) async {
        let error = await #expect(throws: PhiClientError.self, sourceLocation: sourceLocation) {
            _ = try await client(user, organization) { try await $0.get(recordID: recordID, version: nil) }
        }
        #expect(error?.description.contains("denied") == true, sourceLocation: sourceLocation)
    }

    func submit(_ user: String, _ organization: String, _ chaincode: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let code = try await submitCode(user, organization, chaincode, arguments, coSign: false)
        #expect(code == .valid, "\(chaincode) \(arguments.first ?? "")", sourceLocation: sourceLocation)
    }

    /// Submits through `organization`'s peer; with `coSign`, the submitter also co-signs (endorsing
    /// organizations named, so the gateway leaves the key-level policy to validation).
    func submitCode(_ user: String, _ organization: String, _ chaincode: String, _ arguments: [String], coSign: Bool) async throws -> Protos_TxValidationCode {
        let peer = peerIndex(organization)
        let signer = try network.signer(org: organization, user: user)
        return try await GatewayClient.withConnection(
            host: "127.0.0.1", port: network.peers[peer].port, tls: network.clientTLS(org: organization, user: user, trusting: organization), signer: signer
        ) { gateway in
            let proposal = try ProposalFactory.make(channel: network.channel, chaincode: chaincode, arguments: arguments, signer: signer, timestamp: Date())
            let envelope = try await gateway.endorse(
                channel: network.channel, proposal: proposal,
                endorsingOrganizations: coSign || chaincode == ClinicalContract.name ? ["HospitalAMSP", "HospitalBMSP"] : [],
                coSigners: coSign ? [signer] : [])
            try await gateway.submit(channel: network.channel, envelope: envelope)
            return try await gateway.commitStatus(channel: network.channel, transactionID: try GatewayClient.transactionID(of: proposal)).result
        }
    }

    func evaluate(_ user: String, _ organization: String, _ chaincode: String, _ arguments: [String]) async throws -> Data {
        let peer = peerIndex(organization)
        return try await GatewayClient.withConnection(
            host: "127.0.0.1", port: network.peers[peer].port, tls: network.clientTLS(org: organization, user: user, trusting: organization),
            signer: try network.signer(org: organization, user: user)
        ) { Data(try await $0.evaluate(channel: network.channel, chaincode: chaincode, arguments: arguments).payload) }
    }

    /// Scans every file under the network's directory (block files, state, logs) and `others`, and
    /// each node's metrics, for `marker`.
    func expectNoPlaintext(_ marker: String, also others: [URL]) async throws {
        let needle = Data(marker.utf8)
        var scanned = 0
        for root in [network.work] + others {
            guard let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { continue }
            for case let file as URL in files where (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                guard let bytes = try? Data(contentsOf: file) else { continue }
                scanned += 1
                #expect(bytes.range(of: needle) == nil, "PHI marker found in \(file.path)")
            }
        }
        #expect(scanned > 20, "scanned only \(scanned) files")
        for (index, peer) in network.peers.enumerated() {
            let metrics = try await HTTP.get("http://127.0.0.1:\(peer.operationsPort)/metrics").body
            #expect(!metrics.contains(marker))
            // HospitalA's peer served every PHI request.
            if index == 0 { #expect(metrics.contains("medrex_phi_requests_total")) }
        }
        #expect(!network.ordererProcess.log.contains(marker))
        for peer in network.peers { #expect(!peer.process.log.contains(marker)) }
    }
}
