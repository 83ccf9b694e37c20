import ArgumentParser
import Foundation
import GRPCCore
import HealthChaincodes
import Identity
import LedgerWire
import NetworkConfig
import RPCTransport
import PeerDaemon
import Committer
import GatewayService
import NodeClients

extension GatewayOptions {
    /// The caller's identity and a TLS setting for the gateway peer.
    func connection() throws -> (peer: NodeAddress, tls: MutualTLS, signer: SigningIdentity) {
        let root = URL(fileURLWithPath: crypto)
        let member = CryptoMaterialLayout(root: root, organization: org).member(kind: .user, name: user)
        guard let address = NodeAddress(peer) else { throw ValidationError("--peer must be host:port") }
        let tls = MutualTLS(
            certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey,
            trustedCAs: [CryptoMaterialLayout(root: root, organization: peerOrg).tlsCACertificate])
        return (address, tls, try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: mspID))
    }

    /// Runs `body` with a PHI client of the gateway peer; refusals print as `Error: ...`.
    func withPhiClient<Result: Sendable>(_ body: (PhiClient) async throws -> Result) async throws -> Result {
        let (peer, tls, signer) = try connection()
        do {
            return try await PhiClient.withConnection(peer: peer, tls: tls, signer: signer, channel: channel, body)
        } catch let error as PhiClientError {
            throw CommandFailure(error.description)
        } catch let error as RPCError {
            throw CommandFailure(error.message)
        }
    }

    /// Evaluates a chaincode function and returns its payload as text.
    func evaluate(chaincode: String, arguments: [String]) async throws -> String {
        let (peer, tls, signer) = try connection()
        let channel = self.channel
        do {
            let response = try await GatewayClient.withConnection(host: peer.host, port: peer.port, tls: tls, signer: signer) {
                try await $0.evaluate(channel: channel, chaincode: chaincode, arguments: arguments)
            }
            return String(decoding: response.payload, as: UTF8.self)
        } catch let error as RPCError {
            throw CommandFailure(error.message)
        }
    }
}

struct PhiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phi",
        abstract: "Protected health information: store FHIR records off the chain (anchored on it), read them with an audited access decision, verify them.",
        subcommands: [Put.self, Get.self, Verify.self, History.self, Erase.self, Keys.self, RotateKey.self, SetRetention.self])

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a FHIR R4 JSON resource (Patient, Observation, Condition, Encounter, AllergyIntolerance, MedicationRequest, MedicationStatement, Immunization, Procedure, DiagnosticReport, DocumentReference, or a Bundle of them; its patient element names the patient by an identifier with system urn:medrex:person) as the next version of its record, kept by the gateway peer's organization; waits until its anchor commits."
        )

        @OptionGroup var gateway: GatewayOptions
        @Option(help: "The patient's person id, MSP/name (e.g. HospitalAMSP/patient-alice).") var patient: String
        @Option(help: "The FHIR resource (JSON file).") var file: String
        @Option(help: "For a lab result: the lab organization that produced it.") var labOrg: String?

        func run() async throws {
            let json: Data
            do {
                json = try Data(contentsOf: URL(fileURLWithPath: file))
            } catch {
                throw ValidationError("cannot read \(file)")
            }
            // The custodian is the storing person's own hospital (the phi chaincode insists).
            let custodian = gateway.mspID
            let stored = try await gateway.withPhiClient { try await $0.put(json: json, patient: patient, custodian: custodian, labOrg: labOrg) }
            print("record '\(stored.recordID)' version \(stored.version) stored; anchor sha256 \(stored.sha256) committed VALID in block \(stored.blockNumber) (txid \(stored.transactionID))")
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Request access to a record (an audited `access request` transaction) and, when granted, read it, decrypted with your own key and checked against its anchor."
        )

        @OptionGroup var gateway: GatewayOptions
        @Option(help: "Record id (the FHIR resource id).") var record: String
        @Option(help: "Version (default: the latest).") var version: UInt32?
        @Option(help: "Write the record to this file instead of standard output.") var output: String?

        func run() async throws {
            let (json, anchor, txID) = try await gateway.withPhiClient { try await $0.get(recordID: record, version: version) }
            if let output {
                try json.write(to: URL(fileURLWithPath: output))
                print("record '\(anchor.recordID)' version \(anchor.version) written to \(output) (sha256 verified; access txid \(txID))")
            } else {
                FileHandle.standardOutput.write(json)
                FileHandle.standardOutput.write(Data("\n".utf8))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-check stored records against their anchors (an auditor, or an operator of the custodian hospital); mismatches are audited."
        )

        @OptionGroup var gateway: GatewayOptions
        @Option(help: "One record id (with --version, else every version).") var record: String?
        @Option(help: "The record version.") var version: UInt32?
        @Option(help: "Every record of this patient (person id).") var patient: String?

        func run() async throws {
            guard (record == nil) != (patient == nil) else { throw ValidationError("give --record or --patient") }
            let results = try await gateway.withPhiClient { try await $0.verify(recordID: record, version: version, patient: patient) }
            for result in results { print("\(result.recordID) v\(result.version): \(result.status)") }
            let erased = results.filter { $0.status == .erased }
            let bad = results.filter { $0.status != .intact && $0.status != .erased }
            print("\(results.count) version(s) checked, \(erased.count) erased, \(bad.count) not intact")
            if !bad.isEmpty { throw CommandFailure("\(bad.count) record version(s) do not match their anchors") }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The versions of a record: when and by whom each was anchored, its hash, and whether it was erased.")

        @OptionGroup var gateway: GatewayOptions
        @Option(help: "Record id.") var record: String
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() async throws {
            let versions = try await gateway.withPhiClient { try await $0.history(recordID: record) }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
                print(String(decoding: try encoder.encode(versions), as: UTF8.self))
                return
            }
            var table = TextTable("VERSION", "STATE", "ANCHORED AT", "BY", "SOURCE", "TYPE", "SHA-256", "ERASURE")
            for entry in versions {
                let anchor = entry.anchor
                let erasure = entry.erasure.map { "\($0.erasedAt) by \($0.erasedBy), \($0.reason) (txid \($0.txID))" } ?? ""
                table.append(
                    row: [
                        "\(anchor.version)", entry.state, anchor.anchoredAt, anchor.anchoredBy, anchor.source ?? PhiContract.staffSource,
                        anchor.resourceType, anchor.sha256, erasure,
                    ])
            }
            print(table.rendered)
        }
    }

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase a record version for good (crypto-shredding): an on-chain erasure entry first, then its data key and ciphertext are destroyed. The patient, for records they contributed; the custodian's privacy officer, for any.")

        @OptionGroup var gateway: GatewayOptions
        @Option(help: "Record id.") var record: String
        @Option(help: "The version (default: every version not yet erased).") var version: UInt32?
        @Option(help: "Reason code: \(PhiContract.erasureReasons.sorted().joined(separator: ", ")).") var reason: String

        func run() async throws {
            guard PhiContract.erasureReasons.contains(reason) else {
                throw ValidationError("--reason must be one of \(PhiContract.erasureReasons.sorted().joined(separator: ", "))")
            }
            let (entries, txID) = try await gateway.withPhiClient { try await $0.erase(recordID: record, version: version, reason: reason) }
            for entry in entries {
                print("record '\(entry.recordID)' version \(entry.version) erased (anchor sha256 \(entry.sha256) kept on the chain)")
            }
            print("erasure committed VALID (txid \(txID)); the custodian's peers destroy the data keys and ciphertext")
        }
    }

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The custodian key's versions and how many data keys each wraps (admins and operators of the custodian).")

        @OptionGroup var gateway: GatewayOptions

        func run() async throws {
            let response = try await gateway.withPhiClient { try await $0.keys(rotate: false) }
            printKeys(response)
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key",
            abstract: "Make the next custodian key version (in the HSM or key files of the gateway peer's organization); new records use it at once, and a background job re-wraps older data keys to it, then retires the old version.")

        @OptionGroup var gateway: GatewayOptions

        func run() async throws {
            let response = try await gateway.withPhiClient { try await $0.keys(rotate: true) }
            print("custodian key version \(response.currentVersion) made; data keys under older versions are re-wrapped in the background")
            printKeys(response)
        }
    }

    struct SetRetention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-retention",
            abstract: "Set your organization's retention rule for a FHIR resource type (privacy officers and admins): keep records at least N years; erase them after M years.")

        @OptionGroup var gateway: GatewayOptions
        @Option(help: "FHIR resource type, e.g. Observation.") var resourceType: String
        @Option(help: "Refuse erasures within this many years of anchoring (except wrong-patient, entered-in-error, legal-order).") var keepYears: UInt32?
        @Option(help: "The custodian's peers erase records this many years after anchoring.") var eraseAfterYears: UInt32?

        func run() async throws {
            guard keepYears != nil || eraseAfterYears != nil else { throw ValidationError("give --keep-years, --erase-after-years, or both") }
            let rule = RetentionRequest(resourceType: resourceType, keepYears: keepYears, eraseAfterYears: eraseAfterYears)
            try await gateway.submitAndWait(
                chaincode: PhiContract.name, arguments: ["setRetention", String(decoding: try JSONEncoder().encode(rule), as: UTF8.self)])
        }
    }
}

private func printKeys(_ response: Medrex_PhiKeysResponse) {
    print("custodian key: \(response.location), current version \(response.currentVersion)")
    var table = TextTable("VERSION", "KEY", "DATA KEYS")
    for version in response.versions {
        table.append("\(version.version)\(version.version == response.currentVersion ? " (current)" : "")", version.keyID, "\(version.wrappedKeys)")
    }
    print(table.rendered)
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The on-chain audit trail of PHI access.", subcommands: [Query.self])

    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Audit entries by patient, by actor, or by time range (auditors: all; patients: their own)."
        )

        @OptionGroup var gateway: GatewayOptions
        @Option(help: "Entries about this patient (person id).") var patient: String?
        @Option(help: "Entries made by this actor (person id).") var actor: String?
        @Option(help: "From this time (ISO 8601, e.g. 2026-12-01T00:00:00.000Z).") var from: String?
        @Option(help: "Up to this time (ISO 8601).") var to: String?
        @Flag(help: "Print the entries as JSON instead of a table.") var json = false

        func run() async throws {
            let range = [from, to].compactMap { $0 }
            guard range.isEmpty || range.count == 2 else { throw ValidationError("give both --from and --to, or neither") }
            let arguments: [String]
            switch (patient, actor) {
            case (let patient?, nil): arguments = ["byPatient", patient] + range
            case (nil, let actor?): arguments = ["byActor", actor] + range
            case (nil, nil) where range.count == 2: arguments = ["byTime"] + range
            default: throw ValidationError("give one of --patient, --actor, or --from with --to")
            }
            let text = try await gateway.evaluate(chaincode: AuditContract.name, arguments: arguments)
            if json {
                print(text)
                return
            }
            let entries: [AuditEntry]
            do {
                entries = try JSONDecoder().decode([AuditEntry].self, from: Data(text.utf8))
            } catch {
                throw CommandFailure("the audit chaincode answered something other than a list of entries")
            }
            print(Self.table(entries))
        }

        /// One line per entry: time, actor, action, record, decision, reason.
        static func table(_ entries: [AuditEntry]) -> String {
            var table = TextTable("TIME", "ACTOR", "ACTION", "RECORD", "DECISION", "REASON")
            for entry in entries {
                let record = entry.recordID.map { id in entry.version.map { "\(id) v\($0)" } ?? id } ?? (entry.grantee.map { "-> \($0)" } ?? "")
                table.append(entry.time, entry.actor, entry.action, record, entry.decision, entry.reason)
            }
            return table.rendered + "\n\(entries.count) entr\(entries.count == 1 ? "y" : "ies")"
        }
    }
}

struct AccessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access", abstract: "Consent and emergency access to PHI, decided and audited on the chain.",
        subcommands: [Grant.self, Revoke.self, Emergency.self, AssignWard.self])

    /// Whom a consent names.
    struct Grantee: ParsableArguments {
        @Option(help: "The patient (person id, MSP/name): you.") var patient: String
        @Option(help: "A doctor (person id).") var doctor: String?
        @Option(help: "A hospital (MSP id): all its consulting doctors.") var hospital: String?

        func arguments() throws -> [String] {
            switch (doctor, hospital) {
            case (let doctor?, nil): return [patient, "doctor", doctor]
            case (nil, let hospital?): return [patient, "hospital", hospital]
            default: throw ValidationError("give --doctor or --hospital")
            }
        }
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "As a patient, consent to a doctor or hospital reading your records.")
        @OptionGroup var gateway: GatewayOptions
        @OptionGroup var grantee: Grantee
        func run() async throws { try await gateway.submitAndWait(chaincode: AccessContract.name, arguments: ["grant"] + grantee.arguments()) }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "As a patient, withdraw a consent.")
        @OptionGroup var gateway: GatewayOptions
        @OptionGroup var grantee: Grantee
        func run() async throws { try await gateway.submitAndWait(chaincode: AccessContract.name, arguments: ["revoke"] + grantee.arguments()) }
    }

    struct Emergency: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "As a consulting doctor, open a 30-minute emergency access session to a patient's records (audited).")
        @OptionGroup var gateway: GatewayOptions
        @Option(help: "The patient (person id).") var patient: String
        @Option(help: "A reason code, [a-z0-9-]{3,64} (a code, not free text: it goes on the chain).") var reason: String
        func run() async throws { try await gateway.submitAndWait(chaincode: AccessContract.name, arguments: ["emergency", patient, reason]) }
    }

    struct AssignWard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "assign-ward", abstract: "As an operator, assign a patient to a ward of your hospital (its nurses may then read the patient's records there).")
        @OptionGroup var gateway: GatewayOptions
        @Option(help: "The patient (person id).") var patient: String
        @Option(help: "The ward (as nurses' ward_assignment attribute names it).") var ward: String
        func run() async throws { try await gateway.submitAndWait(chaincode: AccessContract.name, arguments: ["assignWard", patient, ward]) }
    }
}
