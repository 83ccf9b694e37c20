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
        subcommands: [Put.self, Get.self, Verify.self])

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a FHIR R4 JSON resource (resourceType, id and subject required) as the next version of its record, kept by the gateway peer's organization; waits until its anchor commits."
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
            let bad = results.filter { $0.status != .intact }
            print("\(results.count) version(s) checked, \(bad.count) not intact")
            if !bad.isEmpty { throw CommandFailure("\(bad.count) record version(s) do not match their anchors") }
        }
    }
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
            print(try await gateway.evaluate(chaincode: AuditContract.name, arguments: arguments))
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
