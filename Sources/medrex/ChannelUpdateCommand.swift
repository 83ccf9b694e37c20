import ArgumentParser
import Foundation
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig
import NodeClients
import RPCTransport
import SwiftProtobuf
import X509
import Yams

/// Who talks to the orderer about a channel's configuration: an admin (or member) of an
/// organization, over mutual TLS with their own TLS certificate.
struct OrdererCallerOptions: ParsableArguments {
    @Option(help: "Crypto material directory written by `medrex crypto generate`.") var crypto: String
    @Option(help: "The caller's organization (as named in network.yaml).") var org: String
    @Option(help: "The caller's MSP id.") var mspID: String
    @Option(help: "The caller (a user of that organization; an admin to sign updates).") var user = "admin"
    @Option(help: "An orderer's address, host:port.") var orderer: String
    @Option(help: "The orderer's organization, whose TLS CA the orderer's certificate must chain to.") var ordererOrg: String
    @Option(help: "Channel name.") var channel: String

    var signer: SigningIdentity {
        get throws {
            try CryptoMaterialLoader.loadSigningIdentity(
                CryptoMaterialLayout(root: URL(fileURLWithPath: crypto), organization: org).member(kind: .user, name: user).msp, mspID: mspID)
        }
    }

    func client() throws -> OrdererClient {
        let root = URL(fileURLWithPath: crypto)
        let member = CryptoMaterialLayout(root: root, organization: org).member(kind: .user, name: user)
        guard let address = NodeAddress(orderer) else { throw ValidationError("--orderer must be host:port") }
        return OrdererClient(
            host: address.host, port: address.port,
            tls: MutualTLS(
                certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey,
                trustedCAs: [CryptoMaterialLayout(root: root, organization: ordererOrg).tlsCACertificate]))
    }

    /// The channel's current configuration, from the orderer's last config block.
    func currentConfig() async throws -> (config: ChannelConfig, block: Common_Block) {
        let block: Common_Block
        do {
            block = try await client().configBlock(channel: channel, signer: try signer)
        } catch let error as OrdererClientError {
            throw CommandFailure(error.description)
        }
        return (try ChannelConfig(block: block), block)
    }
}

extension ChannelCommand {
    struct Config: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a channel's current configuration (from its last config block, fetched from an orderer).")

        @OptionGroup var caller: OrdererCallerOptions
        @Option(help: "yaml or json.") var format = "yaml"
        @Option(help: "Also write the config block itself here (for Fabric's configtxlator).") var block: String?

        func run() async throws {
            let (config, configBlock) = try await caller.currentConfig()
            let summary = ChannelConfigSummary(config, block: configBlock.header.number)
            switch format {
            case "yaml": print(try YAMLEncoder().encode(summary), terminator: "")
            case "json":
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(summary), as: UTF8.self))
            default: throw ValidationError("--format must be yaml or json")
            }
            if let block { try configBlock.serializedData().write(to: URL(fileURLWithPath: block)) }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a configuration update of a channel: fetch its configuration, apply the edits, show what changes, sign it and write it to a file for other admins to sign (`sign-update`); with --submit, send it at once.")

        @OptionGroup var caller: OrdererCallerOptions
        @Option(help: "Add an application organization: MSPID=MSP-FOLDER (its cacerts, tlscacerts, crls).") var addOrg: [String] = []
        @Option(help: "An anchor peer of an added organization: MSPID=host:port (repeatable).") var anchorPeer: [String] = []
        @Option(help: "Remove an application organization (its MSP id).") var removeOrg: [String] = []
        @Option(help: "Set an organization's CRLs: MSPID=CRL-FILE (PEM; repeatable, the files of one MSP are combined; an empty file clears).") var crl: [String] = []
        @Option(help: "Add a root CA certificate to an MSP: MSPID=PEM-FILE.") var addRootCa: [String] = []
        @Option(help: "Remove a root CA certificate from an MSP: MSPID=PEM-FILE.") var removeRootCa: [String] = []
        @Option(help: "Add a TLS root CA certificate to an MSP: MSPID=PEM-FILE.") var addTlsRootCa: [String] = []
        @Option(help: "Remove a TLS root CA certificate from an MSP: MSPID=PEM-FILE.") var removeTlsRootCa: [String] = []
        @Option(help: "Set an orderer organization's orderer endpoints: MSPID=host:port[,host:port...].") var ordererEndpoints: [String] = []
        @Option(help: "Batch size: the most transactions in a block.") var maxMessageCount: Int?
        @Option(help: "Batch size: the most bytes in a block.") var absoluteMaxBytes: Int?
        @Option(help: "Batch size: the preferred bytes of a block.") var preferredMaxBytes: Int?
        @Option(help: "Batch timeout in milliseconds.") var batchTimeoutMs: Int?
        @Option(help: "Reorder each block by its transactions' read/write dependencies: true or false.") var reorderBlocks: Bool?
        @Option(help: "Also cut a block when no envelope arrived for this many milliseconds (0: off).") var batchIdleTimeoutMs: Int?
        @Option(help: "Where to write the signed update (a common.ConfigUpdateEnvelope).") var output: String?
        @Flag(help: "Submit the update to the orderer now (enough admins must have signed).") var submit = false

        func edits() throws -> [ChannelConfigEdit] {
            func pair(_ text: String, _ option: String) throws -> (String, String) {
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ValidationError("--\(option) must be MSPID=VALUE, got '\(text)'") }
                return (parts[0], parts[1])
            }
            func read(_ path: String) throws -> String {
                do { return try String(contentsOf: URL(fileURLWithPath: path), encoding: .utf8) } catch {
                    throw ValidationError("cannot read \(path): \(error.localizedDescription)")
                }
            }
            var edits: [ChannelConfigEdit] = []
            let anchors = try anchorPeer.map { try pair($0, "anchor-peer") }
            for text in addOrg {
                let (mspID, folder) = try pair(text, "add-org")
                edits.append(.addOrganization(
                    mspID: mspID, msp: CryptoMaterialLayout.MSPFolder(directory: URL(fileURLWithPath: folder)),
                    anchorPeers: anchors.filter { $0.0 == mspID }.map(\.1)))
            }
            edits += removeOrg.map { .removeOrganization(mspID: $0) }
            var crls: [String: [String]] = [:]
            for text in crl {
                let (mspID, file) = try pair(text, "crl")
                let pem = try read(file)
                crls[mspID, default: []] += pem.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? [] : [pem]
            }
            edits += crls.sorted { $0.key < $1.key }.map { .setRevocationLists(mspID: $0.key, pems: $0.value) }
            for text in addRootCa { let (id, file) = try pair(text, "add-root-ca"); edits.append(.addRootCertificate(mspID: id, pem: try read(file))) }
            for text in removeRootCa { let (id, file) = try pair(text, "remove-root-ca"); edits.append(.removeRootCertificate(mspID: id, pem: try read(file))) }
            for text in addTlsRootCa { let (id, file) = try pair(text, "add-tls-root-ca"); edits.append(.addTLSRootCertificate(mspID: id, pem: try read(file))) }
            for text in removeTlsRootCa { let (id, file) = try pair(text, "remove-tls-root-ca"); edits.append(.removeTLSRootCertificate(mspID: id, pem: try read(file))) }
            for text in ordererEndpoints {
                let (id, list) = try pair(text, "orderer-endpoints")
                edits.append(.setOrdererEndpoints(mspID: id, endpoints: list.split(separator: ",").map { String($0) }))
            }
            if maxMessageCount != nil || absoluteMaxBytes != nil || preferredMaxBytes != nil || batchTimeoutMs != nil {
                edits.append(.setBatch(
                    maxMessageCount: maxMessageCount, absoluteMaxBytes: absoluteMaxBytes, preferredMaxBytes: preferredMaxBytes,
                    timeoutMilliseconds: batchTimeoutMs))
            }
            if reorderBlocks != nil || batchIdleTimeoutMs != nil {
                edits.append(.setOrdering(reorderBlocks: reorderBlocks, idleTimeoutMilliseconds: batchIdleTimeoutMs))
            }
            return edits
        }

        func run() async throws {
            let edits = try edits()
            guard !edits.isEmpty else { throw ValidationError("name at least one change (--add-org, --remove-org, --crl, --add-root-ca, --max-message-count, ...)") }
            guard output != nil || submit else { throw ValidationError("give --output FILE (to collect more signatures) or --submit") }
            let (current, block) = try await caller.currentConfig()
            var edited = current.config.channelGroup
            for edit in edits { try edit.apply(to: &edited) }
            let update: Common_ConfigUpdate
            do {
                update = try ConfigUpdateBuilding.computeUpdate(channelID: current.channelID, original: current.config.channelGroup, updated: edited)
            } catch {
                throw CommandFailure("the edits change nothing")
            }
            print("configuration of '\(current.channelID)' as of block \(block.header.number) (sequence \(current.config.sequence)); the update changes:")
            for line in try ConfigUpdateDescription.changes(update) { print("  \(line)") }
            var envelope = Common_ConfigUpdateEnvelope()
            envelope.configUpdate = try update.serializedData()
            envelope.signatures = [try ConfigUpdateBuilding.sign(envelope.configUpdate, as: try caller.signer)]
            if let output {
                try envelope.serializedData().write(to: URL(fileURLWithPath: output))
                print("signed by \(caller.mspID) \(caller.user); written to \(output)")
            }
            if submit { try await Self.submit(envelope, caller: caller) }
        }

        static func submit(_ envelope: Common_ConfigUpdateEnvelope, caller: OrdererCallerOptions) async throws {
            let transaction = try ConfigUpdateBuilding.transaction(envelope, channelID: caller.channel, submitter: try caller.signer, time: Date())
            let answer = try await caller.client().broadcast([transaction])
            guard let first = answer.first else { throw CommandFailure("the orderer gave no answer") }
            guard first.status == .success else { throw CommandFailure("the orderer refused the update: \(first.status) \(first.info)") }
            print("the orderer accepted the update; it applies from the channel's next config block")
        }
    }

    struct SignUpdate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-update", abstract: "Add your signature to a configuration update file made by `medrex channel update` (after reading what it changes).")

        @Option(help: "Crypto material directory written by `medrex crypto generate`.") var crypto: String
        @Option(help: "The signer's organization (as named in network.yaml).") var org: String
        @Option(help: "The signer's MSP id.") var mspID: String
        @Option(help: "The signer (an admin).") var user = "admin"
        @Option(help: "The update file; the signature is added to it.") var file: String

        func run() throws {
            let url = URL(fileURLWithPath: file)
            guard let data = try? Data(contentsOf: url), var envelope = try? Common_ConfigUpdateEnvelope(serializedBytes: data),
                let update = try? Common_ConfigUpdate(serializedBytes: envelope.configUpdate)
            else { throw CommandFailure("\(file) is not a configuration update written by `medrex channel update`") }
            print("update of channel '\(update.channelID)'; it changes:")
            for line in try ConfigUpdateDescription.changes(update) { print("  \(line)") }
            let signer = try CryptoMaterialLoader.loadSigningIdentity(
                CryptoMaterialLayout(root: URL(fileURLWithPath: crypto), organization: org).member(kind: .user, name: user).msp, mspID: mspID)
            envelope.signatures.append(try ConfigUpdateBuilding.sign(envelope.configUpdate, as: signer))
            try envelope.serializedData().write(to: url)
            print("signed by \(mspID) \(user) (\(envelope.signatures.count) signatures)")
        }
    }

    struct SubmitUpdate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "submit-update", abstract: "Send a signed configuration update file to the orderer (Fabric's `peer channel update`).")

        @OptionGroup var caller: OrdererCallerOptions
        @Option(help: "The update file, signed by enough admins.") var file: String

        func run() async throws {
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: file)), let envelope = try? Common_ConfigUpdateEnvelope(serializedBytes: data) else {
                throw CommandFailure("\(file) is not a configuration update written by `medrex channel update`")
            }
            try await Update.submit(envelope, caller: caller)
        }
    }
}

/// What a configuration update changes, one line per element, for the admins who sign it.
enum ConfigUpdateDescription {
    static func changes(_ update: Common_ConfigUpdate) throws -> [String] {
        let reads = try ConfigTree.flatten(update.readSet)
        let writes = try ConfigTree.flatten(update.writeSet)
        return writes.filter { reads[$0.key]?.version != $0.value.version }.sorted { $0.key < $1.key }.map { id, element in
            element.version == 0 ? "\(id): added" : "\(id): version \(element.version - 1) -> \(element.version)"
        }
    }
}

/// A channel configuration as `medrex channel config` prints it.
struct ChannelConfigSummary: Encodable {
    struct Organization: Encodable {
        let mspID: String
        let rootCAs: [String]
        let intermediateCAs: [String]
        let tlsRootCAs: [String]
        let revokedSerialNumbers: [String]
        let anchorPeers: [String]?
    }

    struct Batch: Encodable {
        let maxMessageCount: Int
        let absoluteMaxBytes: Int
        let preferredMaxBytes: Int
        let timeoutMilliseconds: Int
    }

    let channel: String
    let configBlock: UInt64
    let sequence: UInt64
    let consensus: String
    let ordererEndpoints: [String]
    let batch: Batch
    let reorderBlocks: Bool
    let batchIdleTimeoutMilliseconds: Int?
    let applicationOrganizations: [Organization]
    let ordererOrganizations: [Organization]
    let endorsementPolicy: String?

    init(_ config: ChannelConfig, block: UInt64) {
        func organization(_ organization: ChannelConfig.Organization, application: Bool) -> Organization {
            Organization(
                mspID: organization.mspID, rootCAs: organization.msp.rootCertificates.map { "\($0.subject)" },
                intermediateCAs: organization.msp.intermediateCertificates.map { "\($0.subject)" },
                tlsRootCAs: organization.tlsRootCertificates.map { "\($0.subject)" },
                revokedSerialNumbers: organization.msp.revocationLists.flatMap(\.entries).map { "\($0.serialNumber)" },
                anchorPeers: application ? organization.anchorPeers : nil)
        }
        channel = config.channelID
        configBlock = block
        sequence = config.config.sequence
        consensus = config.consensusType
        ordererEndpoints = config.ordererAddresses
        batch = Batch(
            maxMessageCount: config.batch.maxMessageCount, absoluteMaxBytes: config.batch.absoluteMaxBytes, preferredMaxBytes: config.batch.preferredMaxBytes,
            timeoutMilliseconds: config.batch.timeoutMilliseconds)
        reorderBlocks = config.ordering.reorderBlocks
        batchIdleTimeoutMilliseconds = config.ordering.idleTimeoutMilliseconds
        applicationOrganizations = config.applicationOrganizations.map { organization($0, application: true) }
        ordererOrganizations = config.ordererOrganizations.map { organization($0, application: false) }
        endorsementPolicy = config.endorsementPolicy.map { "\($0)" }
    }
}
