import Foundation
import Identity
import LedgerCore
import LedgerWire
import Testing
import TestSupport
import X509

@testable import NetworkConfig

@Suite struct ChannelGenesisTests {
    @Test func genesisBlockRoundTrips() throws {
        let network = try NetworkDescription.load(file: NetworkDescriptionTests.sampleFile)
        let crypto = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-genesis-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: crypto) }
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: crypto, force: false)
        let block = try ChannelGenesis.makeBlock(network: network, channel: "healthchannel", crypto: crypto, timestamp: Date())
        #expect(block.header.number == 0)
        #expect(block.header.previousHash.isEmpty)
        #expect(block.hasConsistentDataHash)
        let decoded = try Common_Block(serializedBytes: try block.serializedData())
        let config = try ChannelConfig(block: decoded)
        #expect(config.channelID == "healthchannel")
        #expect(config.applicationOrganizations.map(\.mspID) == ["HospitalAMSP", "HospitalBMSP"])
        #expect(config.ordererOrganizations.map(\.mspID) == ["OrdererMSP"])
        #expect(config.batch == NetworkDescription.BatchSettings(maxMessageCount: 500, absoluteMaxBytes: 10_485_760, preferredMaxBytes: 2_097_152, timeoutMilliseconds: 250))
        #expect(config.consensusType == "etcd")
        #expect(config.ordererAddresses == ["127.0.0.1:7050", "127.0.0.1:7060", "127.0.0.1:7070"])
        #expect(config.endorsementPolicy == (try EndorsementPolicy.parse("AND('HospitalAMSP.peer', 'HospitalBMSP.peer')")))
        // The MSPs in the block accept the network's identities.
        let hospitalA = try MembershipServiceProvider(try #require(config.applicationOrganizations.first).msp)
        let doctor = try CryptoMaterialLoader.loadSigningIdentity(
            CryptoMaterialLayout(root: crypto, organization: "HospitalA").member(kind: .user, name: "dr-carter").msp, mspID: "HospitalAMSP")
        #expect(try hospitalA.validate(serializedIdentity: doctor.serialized, at: Date()).attributes["specialty"] == "cardiology")
    }

    @Test func readsFabricsGenesisBlock() throws {
        let record = try #require(try FabricVectors.manifest().first { $0.number == 0 })
        let (_, block) = try FabricVectors.block(record)
        let config = try ChannelConfig(block: block)
        #expect(config.channelID == "anchor")
        #expect(config.applicationOrganizations.map(\.mspID) == ["Org1MSP"])
        #expect(config.ordererOrganizations.map(\.mspID) == ["OrdererMSP"])
        #expect(config.batch.maxMessageCount == 500)
        #expect(config.batch.timeoutMilliseconds == 250)
        #expect(config.consensusType == "etcdraft")
        let org1 = try MembershipServiceProvider(try #require(config.applicationOrganizations.first).msp)
        let peer = try Certificate(pemEncoded: FabricVectors.text("msp/org1-peer0-signcert.pem"))
        #expect(try org1.validate(certificate: peer, at: Date(timeIntervalSince1970: 1_800_000_000)) == .peer)
    }

    @Test func refusesABlockThatIsNotAConfigBlock() throws {
        let record = try #require(try FabricVectors.manifest().first { $0.number == 4 })
        let (_, block) = try FabricVectors.block(record)
        #expect(throws: ConfigError.self) { _ = try ChannelConfig(block: block) }
    }

    @Test func signaturePoliciesRoundTripThroughFabricsEncoding() throws {
        for text in ["AND('A.peer', OR('B.peer', 'C.admin'))", "OutOf(2, 'A.member', 'B.client', 'C.orderer')", "'Org1.example.com.peer'"] {
            let policy = try EndorsementPolicy.parse(text)
            #expect(try SignaturePolicyCodec.decode(try SignaturePolicyCodec.encode(policy)) == policy)
        }
        #expect(throws: PolicyParseError.self) { _ = try SignaturePolicyCodec.encode(try EndorsementPolicy.parse("'A.client[is_supervisor=true]'")) }
    }
}
