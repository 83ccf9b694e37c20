import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import Testing
import TestSupport
import X509

@testable import NetworkConfig

/// The sample network's health channel and its admins, for configuration updates.
struct ConfigUpdateFixture {
    let crypto: URL
    let genesis: Common_Block
    let config: ChannelConfig

    init() throws {
        let network = try NetworkDescription.load(file: NetworkDescriptionTests.sampleFile)
        crypto = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-config-update-\(UUID().uuidString)")
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: crypto, force: false)
        genesis = try ChannelGenesis.makeBlock(network: network, channel: "healthchannel", crypto: crypto, timestamp: Date())
        config = try ChannelConfig(block: genesis)
    }

    func remove() { try? FileManager.default.removeItem(at: crypto) }

    func layout(_ organization: String) -> CryptoMaterialLayout { CryptoMaterialLayout(root: crypto, organization: organization) }

    func identity(_ organization: String, _ user: String, mspID: String) throws -> SigningIdentity {
        try CryptoMaterialLoader.loadSigningIdentity(layout(organization).member(kind: .user, name: user).msp, mspID: mspID)
    }

    var adminA: SigningIdentity { get throws { try identity("HospitalA", "admin", mspID: "HospitalAMSP") } }
    var adminB: SigningIdentity { get throws { try identity("HospitalB", "admin", mspID: "HospitalBMSP") } }
    var ordererAdmin: SigningIdentity { get throws { try identity("OrdererOrg", "admin", mspID: "OrdererMSP") } }

    /// The CA of `organization`, which issues its members and signs its CRLs.
    func certificateAuthority(_ organization: String) throws -> CertificateAuthority {
        let layout = layout(organization)
        return try CertificateAuthority(
            certificate: try Certificate(pemEncoded: String(contentsOf: layout.caCertificate, encoding: .utf8)),
            privateKey: try P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: layout.caPrivateKey, encoding: .utf8)))
    }

    /// The update that `edits` make to `config`, signed by `signers`.
    func update(_ edits: [ChannelConfigEdit], from config: ChannelConfig? = nil, signedBy signers: [SigningIdentity]) throws -> Common_ConfigUpdateEnvelope {
        let base = config ?? self.config
        var edited = base.config.channelGroup
        for edit in edits { try edit.apply(to: &edited) }
        let update = try ConfigUpdateBuilding.computeUpdate(channelID: base.channelID, original: base.config.channelGroup, updated: edited)
        var envelope = Common_ConfigUpdateEnvelope()
        envelope.configUpdate = try update.serializedData()
        envelope.signatures = try signers.map { try ConfigUpdateBuilding.sign(envelope.configUpdate, as: $0) }
        return envelope
    }
}

import Crypto

@Suite struct ConfigUpdateTests {
    @Test func anOrganizationsAdminPutsACRLIntoItsMSPAndTheRevokedMemberIsRefusedFromThen() throws {
        let fixture = try ConfigUpdateFixture()
        defer { fixture.remove() }
        let doctor = try fixture.identity("HospitalA", "dr-carter", mspID: "HospitalAMSP")
        let crl = try fixture.certificateAuthority("HospitalA").revocationList(
            revoking: [doctor.certificate.serialNumber], thisUpdate: Date(), nextUpdate: Date().addingTimeInterval(86_400))
        let envelope = try fixture.update([.setRevocationLists(mspID: "HospitalAMSP", pems: [crl.pemString])], signedBy: [try fixture.adminA])
        let next = try ConfigUpdateProcessor(current: fixture.config).apply(envelope, at: Date())
        #expect(next.config.sequence == 1)
        let before = try MembershipServiceProvider(try #require(fixture.config.applicationOrganizations.first).msp)
        let after = try MembershipServiceProvider(try #require(next.applicationOrganizations.first { $0.mspID == "HospitalAMSP" }).msp)
        #expect(try before.validate(serializedIdentity: doctor.serialized, at: Date()).mspID == "HospitalAMSP")
        #expect(throws: IdentityError.self) { _ = try after.validate(serializedIdentity: doctor.serialized, at: Date()) }
        // Only the MSP value moved to its next version; everything else kept its version.
        let changed = try ConfigTree.flatten(next.config.channelGroup).filter { $0.value.version != 0 }.map(\.key)
        #expect(changed == ["[Values] /Channel/Application/HospitalAMSP/MSP"])
    }

    @Test func anotherOrganizationsAdminCannotChangeItsMSP() throws {
        let fixture = try ConfigUpdateFixture()
        defer { fixture.remove() }
        let crl = try fixture.certificateAuthority("HospitalA").revocationList(revoking: [], thisUpdate: Date(), nextUpdate: Date().addingTimeInterval(86_400))
        let envelope = try fixture.update([.setRevocationLists(mspID: "HospitalAMSP", pems: [crl.pemString])], signedBy: [try fixture.adminB])
        let error = try #require(throws: ConfigUpdateError.self) { _ = try ConfigUpdateProcessor(current: fixture.config).apply(envelope, at: Date()) }
        #expect(error.code == .policyNotSatisfied)
        #expect(error.reason.contains("HospitalAMSP/MSP"))
    }

    @Test func addingAnOrganizationNeedsAMajorityOfTheApplicationAdmins() throws {
        let fixture = try ConfigUpdateFixture()
        defer { fixture.remove() }
        let newCrypto = fixture.crypto.appendingPathComponent("new")
        var network = try NetworkDescription.load(file: NetworkDescriptionTests.sampleFile)
        network.organizations = network.organizations.filter { $0.name == "HospitalB" }
        network.organizations[0].name = "ClinicC"
        network.organizations[0].mspID = "ClinicCMSP"
        network.channels = []
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: newCrypto, force: false)
        let add = ChannelConfigEdit.addOrganization(
            mspID: "ClinicCMSP", msp: CryptoMaterialLayout(root: newCrypto, organization: "ClinicC").organizationMSP, anchorPeers: ["127.0.0.1:9051"])
        let oneAdmin = try fixture.update([add], signedBy: [try fixture.adminA])
        let refused = try #require(throws: ConfigUpdateError.self) { _ = try ConfigUpdateProcessor(current: fixture.config).apply(oneAdmin, at: Date()) }
        #expect(refused.code == .policyNotSatisfied)
        #expect(refused.reason.contains("[Groups] /Channel/Application"))
        // The same admin twice counts once.
        let twice = try fixture.update([add], signedBy: [try fixture.adminA, try fixture.adminA])
        #expect(throws: ConfigUpdateError.self) { _ = try ConfigUpdateProcessor(current: fixture.config).apply(twice, at: Date()) }
        let both = try fixture.update([add], signedBy: [try fixture.adminA, try fixture.adminB])
        let next = try ConfigUpdateProcessor(current: fixture.config).apply(both, at: Date())
        #expect(next.applicationOrganizations.map(\.mspID) == ["ClinicCMSP", "HospitalAMSP", "HospitalBMSP"])
        #expect(next.applicationOrganizations.first?.anchorPeers == ["127.0.0.1:9051"])
        // From then on the Application admins are three: one is not a majority, two are.
        let remove = try fixture.update([.removeOrganization(mspID: "ClinicCMSP")], from: next, signedBy: [try fixture.adminA])
        #expect(throws: ConfigUpdateError.self) { _ = try ConfigUpdateProcessor(current: next).apply(remove, at: Date()) }
        let removeSigned = try fixture.update([.removeOrganization(mspID: "ClinicCMSP")], from: next, signedBy: [try fixture.adminA, try fixture.adminB])
        let after = try ConfigUpdateProcessor(current: next).apply(removeSigned, at: Date())
        #expect(after.applicationOrganizations.map(\.mspID) == ["HospitalAMSP", "HospitalBMSP"])
        #expect(after.config.sequence == 2)
    }

    @Test func anUpdateMadeAgainstAnOlderConfigurationIsStale() throws {
        let fixture = try ConfigUpdateFixture()
        defer { fixture.remove() }
        let first = try fixture.update([.setBatch(maxMessageCount: 100, absoluteMaxBytes: nil, preferredMaxBytes: nil, timeoutMilliseconds: nil)], signedBy: [try fixture.ordererAdmin])
        let second = try fixture.update([.setBatch(maxMessageCount: 50, absoluteMaxBytes: nil, preferredMaxBytes: nil, timeoutMilliseconds: 500)], signedBy: [try fixture.ordererAdmin])
        let next = try ConfigUpdateProcessor(current: fixture.config).apply(first, at: Date())
        #expect(next.batch.maxMessageCount == 100)
        let error = try #require(throws: ConfigUpdateError.self) { _ = try ConfigUpdateProcessor(current: next).apply(second, at: Date()) }
        #expect(error.code == .badVersion || error.code == .staleReadSet)
        // The same update applied twice is refused the second time as well.
        #expect(throws: ConfigUpdateError.self) { _ = try ConfigUpdateProcessor(current: next).apply(first, at: Date()) }
    }

    @Test func refusesAResultWithoutOrderersOrWithAForeignCRLOrABadBatch() throws {
        let fixture = try ConfigUpdateFixture()
        defer { fixture.remove() }
        let everyone = [try fixture.adminA, try fixture.adminB, try fixture.ordererAdmin]
        // No orderer organization left.
        var edited = fixture.config.config.channelGroup
        edited.groups["Orderer"]!.groups = [:]
        var update = try ConfigUpdateBuilding.computeUpdate(channelID: "healthchannel", original: fixture.config.config.channelGroup, updated: edited)
        var envelope = Common_ConfigUpdateEnvelope()
        envelope.configUpdate = try update.serializedData()
        envelope.signatures = try everyone.map { try ConfigUpdateBuilding.sign(envelope.configUpdate, as: $0) }
        var error = try #require(throws: ConfigUpdateError.self) { _ = try ConfigUpdateProcessor(current: fixture.config).apply(envelope, at: Date()) }
        #expect(error.code == .invalidResult)
        // A CRL signed by a CA that is not the organization's.
        let stranger = try CertificateAuthority.makeRoot(
            commonName: "ca.stranger", organization: "Stranger", notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(86_400))
        let foreign = try stranger.revocationList(revoking: [], thisUpdate: Date(), nextUpdate: Date().addingTimeInterval(86_400))
        envelope = try fixture.update([.setRevocationLists(mspID: "HospitalAMSP", pems: [foreign.pemString])], signedBy: everyone)
        error = try #require(throws: ConfigUpdateError.self) { _ = try ConfigUpdateProcessor(current: fixture.config).apply(envelope, at: Date()) }
        #expect(error.code == .invalidResult)
        #expect(error.reason.contains("HospitalAMSP"))
        // Preferred bytes above the absolute maximum.
        envelope = try fixture.update([.setBatch(maxMessageCount: nil, absoluteMaxBytes: 1000, preferredMaxBytes: 2000, timeoutMilliseconds: nil)], signedBy: everyone)
        error = try #require(throws: ConfigUpdateError.self) { _ = try ConfigUpdateProcessor(current: fixture.config).apply(envelope, at: Date()) }
        #expect(error.code == .invalidResult)
        // Another channel's update.
        update.channelID = "devchannel"
        envelope.configUpdate = try update.serializedData()
        error = try #require(throws: ConfigUpdateError.self) { _ = try ConfigUpdateProcessor(current: fixture.config).apply(envelope, at: Date()) }
        #expect(error.code == .wrongChannel)
    }

    @Test func worstBytesAreRefusedWithAReason() throws {
        let fixture = try ConfigUpdateFixture()
        defer { fixture.remove() }
        let processor = try ConfigUpdateProcessor(current: fixture.config)
        var envelope = Common_ConfigUpdateEnvelope()
        envelope.configUpdate = Data([0xFF, 0xFF, 0xFF])
        #expect((try #require(throws: ConfigUpdateError.self) { _ = try processor.apply(envelope, at: Date()) }).code == .malformed)
        // An empty update changes nothing.
        var update = Common_ConfigUpdate()
        update.channelID = "healthchannel"
        envelope.configUpdate = try update.serializedData()
        #expect((try #require(throws: ConfigUpdateError.self) { _ = try processor.apply(envelope, at: Date()) }).code == .emptyUpdate)
        // A write set with an illegal key, and one that jumps versions.
        var write = Common_ConfigGroup()
        write.version = 0
        write.groups["../etc"] = Common_ConfigGroup()
        update.writeSet = write
        envelope.configUpdate = try update.serializedData()
        #expect((try #require(throws: ConfigUpdateError.self) { _ = try processor.apply(envelope, at: Date()) }).code == .malformed)
        write = Common_ConfigGroup()
        write.version = 7
        write.modPolicy = "Admins"
        update.writeSet = write
        envelope.configUpdate = try update.serializedData()
        #expect((try #require(throws: ConfigUpdateError.self) { _ = try processor.apply(envelope, at: Date()) }).code == .badVersion)
        // Signatures that are garbage count for nothing, and say why.
        let good = try fixture.update([.setBatch(maxMessageCount: 10, absoluteMaxBytes: nil, preferredMaxBytes: nil, timeoutMilliseconds: nil)], signedBy: [])
        var bad = good
        var garbage = Common_ConfigSignature()
        garbage.signatureHeader = Data([1, 2, 3])
        garbage.signature = Data([4, 5])
        var forged = try ConfigUpdateBuilding.sign(good.configUpdate, as: try fixture.ordererAdmin)
        forged.signature = try ConfigUpdateBuilding.sign(Data("another update".utf8), as: try fixture.ordererAdmin).signature
        bad.signatures = [garbage, forged]
        let error = try #require(throws: ConfigUpdateError.self) { _ = try processor.apply(bad, at: Date()) }
        #expect(error.code == .policyNotSatisfied)
        #expect(error.reason.contains("refused: signature 0"))
        #expect(error.reason.contains("signature 1"))
    }

    @Test func aConfigTransactionVerifiesOnlyWithTheConfigurationItsUpdateProduces() throws {
        let fixture = try ConfigUpdateFixture()
        defer { fixture.remove() }
        let envelope = try fixture.update([.setBatch(maxMessageCount: 42, absoluteMaxBytes: nil, preferredMaxBytes: nil, timeoutMilliseconds: 100)], signedBy: [try fixture.ordererAdmin])
        let processor = try ConfigUpdateProcessor(current: fixture.config)
        let now = Date()
        let next = try processor.apply(envelope, at: now)
        let orderer = try CryptoMaterialLoader.loadSigningIdentity(fixture.layout("OrdererOrg").member(kind: .orderer, name: "orderer0").msp, mspID: "OrdererMSP")
        let lastUpdate = try ConfigUpdateBuilding.transaction(envelope, channelID: "healthchannel", submitter: try fixture.ordererAdmin, time: now)
        let transaction = try TransactionEnvelope(envelope: try ConfigUpdateProcessor.configTransaction(next, lastUpdate: lastUpdate, signer: orderer, time: now, nonce: Array(repeating: 7, count: 24)))
        let configEnvelope = try ConfigUpdateProcessor.configEnvelope(of: transaction)
        let verified = try processor.verify(configEnvelope, at: transaction.channelHeader.timestamp.instant)
        #expect(verified.batch.maxMessageCount == 42)
        #expect(verified.batch.timeoutMilliseconds == 100)
        // A block that carries it reads as the new configuration.
        var block = Common_Block(number: 1, previousHash: fixture.genesis.header.hash, envelopes: [try transaction.envelope.serializedData()])
        block.setValidationCodes([.valid])
        #expect(try ChannelConfig(block: block).batch.maxMessageCount == 42)
        // A configuration the update does not produce, or out of sequence, is refused.
        var tampered = configEnvelope
        var size = Orderer_BatchSize()
        size.maxMessageCount = 1
        size.absoluteMaxBytes = 1000
        size.preferredMaxBytes = 1000
        tampered.config.channelGroup.groups["Orderer"]!.values["BatchSize"]!.value = try size.serializedData()
        #expect((try #require(throws: ConfigUpdateError.self) { _ = try processor.verify(tampered, at: now) }).code == .mismatch)
        var skipped = configEnvelope
        skipped.config.sequence = 5
        #expect((try #require(throws: ConfigUpdateError.self) { _ = try processor.verify(skipped, at: now) }).code == .mismatch)
        // Verified against the new configuration, it is stale.
        #expect(throws: ConfigUpdateError.self) { _ = try ConfigUpdateProcessor(current: next).verify(configEnvelope, at: now) }
    }

    @Test func flatteningAndRebuildingKeepsFabricsGenesisConfiguration() throws {
        let record = try #require(try FabricVectors.manifest().first { $0.number == 0 })
        let (_, block) = try FabricVectors.block(record)
        let config = try ChannelConfig(block: block)
        let elements = try ConfigTree.flatten(config.config.channelGroup)
        #expect(elements["[Values] /Channel/Orderer/BatchSize"] != nil)
        #expect(elements["[Policy] /Channel/Application/Org1MSP/Admins"] != nil)
        #expect(try ConfigTree.rebuild(elements) == config.config.channelGroup)
        // Fabric's policies evaluate over the tree: the channel's Admins need a majority of the
        // Application and Orderer groups' Admins; nobody satisfies it here.
        #expect(ConfigPolicies(root: config.config.channelGroup).evaluate("/Channel/Application/Admins", at: ["Channel"], signers: []) == .notSatisfied)
        #expect(ConfigPolicies(root: config.config.channelGroup).evaluate("NoSuchPolicy", at: ["Channel"], signers: []) == .missing)
        // An edit computed against Fabric's configuration changes exactly that value.
        var edited = config.config.channelGroup
        try ChannelConfigEdit.setBatch(maxMessageCount: 10, absoluteMaxBytes: nil, preferredMaxBytes: nil, timeoutMilliseconds: nil).apply(to: &edited)
        let update = try ConfigUpdateBuilding.computeUpdate(channelID: "anchor", original: config.config.channelGroup, updated: edited)
        let writes = try ConfigTree.flatten(update.writeSet)
        let reads = try ConfigTree.flatten(update.readSet)
        #expect(writes.filter { reads[$0.key]?.version != $0.value.version }.map(\.key) == ["[Values] /Channel/Orderer/BatchSize"])
    }

    @Test func theOrderingSwitchesAreTheChannelsAndChangeByUpdate() throws {
        let fixture = try ConfigUpdateFixture()
        defer { fixture.remove() }
        #expect(fixture.config.ordering == NetworkDescription.OrderingSwitches())
        // Fabric's tools see an empty ConsensusType metadata when both are off.
        let consensus = try Orderer_ConsensusType(serializedBytes: try #require(fixture.config.config.channelGroup.groups["Orderer"]?.values["ConsensusType"]).value)
        #expect(consensus.metadata.isEmpty)
        let envelope = try fixture.update([.setOrdering(reorderBlocks: true, idleTimeoutMilliseconds: 5)], signedBy: [try fixture.ordererAdmin])
        let next = try ConfigUpdateProcessor(current: fixture.config).apply(envelope, at: Date())
        #expect(next.ordering == NetworkDescription.OrderingSwitches(reorderBlocks: true, idleTimeoutMilliseconds: 5))
        let off = try fixture.update([.setOrdering(reorderBlocks: nil, idleTimeoutMilliseconds: 0)], from: next, signedBy: [try fixture.ordererAdmin])
        #expect(try ConfigUpdateProcessor(current: next).apply(off, at: Date()).ordering == NetworkDescription.OrderingSwitches(reorderBlocks: true))
        // A hospital admin alone may not change how blocks are cut.
        let byHospital = try fixture.update([.setOrdering(reorderBlocks: true, idleTimeoutMilliseconds: nil)], signedBy: [try fixture.adminA])
        #expect(throws: ConfigUpdateError.self) { _ = try ConfigUpdateProcessor(current: fixture.config).apply(byHospital, at: Date()) }
        // Metadata that is not the switches: the configuration does not load.
        var group = fixture.config.config.channelGroup
        var bad = consensus
        bad.metadata = Data([0x0A, 0x03, 0x66, 0x6F, 0x6F])
        group.groups["Orderer"]!.values["ConsensusType"]!.value = try bad.serializedData()
        var config = fixture.config.config
        config.channelGroup = group
        #expect(throws: ConfigError.self) { _ = try ChannelConfig(channelID: "healthchannel", config: config) }
    }

    @Test func networkYAMLSetsTheOrderingSwitchesOfTheGenesisBlock() throws {
        let text = try String(contentsOf: URL(fileURLWithPath: NetworkDescriptionTests.sampleFile), encoding: .utf8)
            .replacingOccurrences(of: "  - name: devchannel\n", with: "  - name: devchannel\n    reorderBlocks: true\n")
            .replacingOccurrences(of: "      maxMessageCount: 500\n      timeout: 250ms", with: "      maxMessageCount: 500\n      timeout: 250ms\n      idleTimeout: 3ms")
        let network = try NetworkDescription.parse(yaml: text, file: "network.yaml")
        let channel = try #require(network.channels.first { $0.name == "devchannel" })
        #expect(channel.ordering == NetworkDescription.OrderingSwitches(reorderBlocks: true, idleTimeoutMilliseconds: 3))
        let crypto = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-switches-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: crypto) }
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: crypto, force: false)
        let config = try ChannelConfig(block: try ChannelGenesis.makeBlock(network: network, channel: "devchannel", crypto: crypto, timestamp: Date()))
        #expect(config.ordering == channel.ordering)
    }
}
