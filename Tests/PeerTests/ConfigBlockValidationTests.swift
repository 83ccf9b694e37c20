import BlockIntegrity
import Crypto
import Foundation
import Identity
import LedgerCore
import LedgerWire
import Logging
import NetworkConfig
import Orderer
import SwiftProtobuf
import Testing
import TestSupport
import WorldState
import X509
@testable import Committer

/// Config blocks at the committer: validated against the configuration before them, and the
/// blocks after them validated under the configuration they set; earlier blocks keep their codes.
@Suite struct ConfigBlockValidationTests {
    struct Channel {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-config-blocks-\(UUID().uuidString)")
        let crypto: URL
        let genesis: Common_Block
        let config: ChannelConfig
        let orderer: SigningIdentity

        init() throws {
            let text = try String(contentsOf: ExamplePlugin.repository.appendingPathComponent("network-config/network.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "consensus: etcd", with: "consensus: solo")
            let network = try NetworkDescription.parse(yaml: text, file: "network.yaml")
            crypto = work.appendingPathComponent("crypto")
            _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: crypto, force: false)
            genesis = try ChannelGenesis.makeBlock(network: network, channel: "healthchannel", crypto: crypto, timestamp: Date())
            config = try ChannelConfig(block: genesis)
            orderer = try CryptoMaterialLoader.loadSigningIdentity(
                CryptoMaterialLayout(root: crypto, organization: "OrdererOrg").member(kind: .orderer, name: "orderer0").msp, mspID: "OrdererMSP")
        }

        func identity(_ organization: String, _ kind: CryptoMaterialLayout.MemberKind, _ name: String, _ mspID: String) throws -> SigningIdentity {
            try CryptoMaterialLoader.loadSigningIdentity(CryptoMaterialLayout(root: crypto, organization: organization).member(kind: kind, name: name).msp, mspID: mspID)
        }

        /// The checks a peer uses under `config` (as the peer daemon builds them).
        func checks(_ config: ChannelConfig) throws -> BlockCommitter.ConfiguredChecks {
            let membership = MembershipRegistry(try (config.applicationOrganizations + config.ordererOrganizations).map { try MembershipServiceProvider($0.msp) })
            var validator = BlockValidator(
                channelID: config.channelID, membership: membership, lifecyclePolicy: config.lifecycleEndorsementPolicy, defaultPolicy: config.chaincodeEndorsementPolicy)
            validator.configurationCheck = { transaction in
                _ = try ConfigUpdateProcessor(current: config).verify(
                    try ConfigUpdateProcessor.configEnvelope(of: transaction), at: transaction.channelHeader.timestamp.instant)
            }
            return BlockCommitter.ConfiguredChecks(verifier: BlockVerifier(membership: membership, blockValidationPolicy: config.blockValidationPolicy), validator: validator)
        }

        func transaction(by signer: SigningIdentity) throws -> Data {
            var builder = EndorserTransactionBuilder(
                channelID: "healthchannel", chaincodeName: "cc", creator: Data(signer.serialized), nonce: Data((0..<24).map { _ in UInt8.random(in: 0...255) }),
                timestamp: Date())
            var set = Kvrwset_KVRWSet()
            var write = Kvrwset_KVWrite()
            write.key = "k"
            write.value = Data("v".utf8)
            set.writes = [write]
            builder.readWriteSets = [("cc", set)]
            return try builder.envelope { payload in Data(try signer.sign(payload)) }.serializedData()
        }

        /// A config update transaction putting a CRL that revokes `revoked` into HospitalA's MSP.
        func revocation(of revoked: SigningIdentity, signer: SigningIdentity) throws -> Common_Envelope {
            let layout = CryptoMaterialLayout(root: crypto, organization: "HospitalA")
            let ca = try CertificateAuthority(
                certificate: try Certificate(pemEncoded: String(contentsOf: layout.caCertificate, encoding: .utf8)),
                privateKey: try P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: layout.caPrivateKey, encoding: .utf8)))
            let crl = try ca.revocationList(revoking: [revoked.certificate.serialNumber], thisUpdate: Date(), nextUpdate: Date().addingTimeInterval(86_400))
            var edited = config.config.channelGroup
            try ChannelConfigEdit.setRevocationLists(mspID: "HospitalAMSP", pems: [crl.pemString]).apply(to: &edited)
            let update = try ConfigUpdateBuilding.computeUpdate(channelID: "healthchannel", original: config.config.channelGroup, updated: edited)
            var envelope = Common_ConfigUpdateEnvelope()
            envelope.configUpdate = try update.serializedData()
            envelope.signatures = [try ConfigUpdateBuilding.sign(envelope.configUpdate, as: signer)]
            return try ConfigUpdateBuilding.transaction(envelope, channelID: "healthchannel", submitter: signer, time: Date())
        }

        /// Block `number` after `previous`, signed by the orderer.
        func block(_ number: UInt64, after previous: Common_Block, _ envelopes: [Data], lastConfig: UInt64) throws -> Common_Block {
            var block = Common_Block(number: number, previousHash: previous.header.hash, envelopes: envelopes)
            try block.signAsOrderer(orderer, lastConfigIndex: lastConfig, time: Date(), nonce: Array(repeating: UInt8(number), count: 24))
            return block
        }
    }

    @Test func aRevokedCreatorIsValidBeforeTheConfigBlockAndInvalidAfterIt() async throws {
        let channel = try Channel()
        defer { try? FileManager.default.removeItem(at: channel.work) }
        let doctor = try channel.identity("HospitalA", .user, "dr-carter", "HospitalAMSP")
        let admin = try channel.identity("HospitalA", .user, "admin", "HospitalAMSP")
        let revocation = try channel.revocation(of: doctor, signer: admin)
        let next = try ConfigUpdateProcessor(current: channel.config).apply(
            try ConfigUpdateProcessor.updateEnvelope(of: try TransactionEnvelope(envelope: revocation)), at: Date())
        let configTransaction = try ConfigUpdateProcessor.configTransaction(
            next, lastUpdate: revocation, signer: channel.orderer, time: Date(), nonce: Array(repeating: 9, count: 24))

        let ledger = try Ledger(directory: channel.work.appendingPathComponent("ledger"))
        defer { try? ledger.close() }
        try ledger.commit(channel.genesis)
        let initial = try channel.checks(channel.config)
        let signal = BlockHeightSignal(height: ledger.height)
        let blockStore = ledger.blockStore
        let committer = BlockCommitter(
            channelID: "healthchannel", ledger: ledger, verifier: initial.verifier, validator: initial.validator,
            notifier: CommitNotifier { txID in try blockStore.transactionLocation(txID).map { CommitOutcome(blockNumber: $0.blockNumber, validationCode: $0.validationCode) } },
            signal: signal, metrics: PeerMetrics(), logger: Logger(label: "test"),
            reconfigure: { block in try channel.checks(try ChannelConfig(block: block)) })
        let block1 = try channel.block(1, after: channel.genesis, [try channel.transaction(by: doctor)], lastConfig: 0)
        let block2 = try channel.block(2, after: block1, [try configTransaction.serializedData()], lastConfig: 2)
        let block3 = try channel.block(3, after: block2, [try channel.transaction(by: doctor)], lastConfig: 2)
        for block in [block1, block2, block3] { #expect(try await committer.commitNext(block)) }
        let codes = try (1...3).map { try #require(try ledger.blockStore.block(number: $0)?.transactionValidationCodes) }
        // Block 1: the doctor's signature holds (the chaincode is simply not defined); block 2 is
        // the valid config block; block 3: the same doctor is revoked.
        #expect(codes == [[.invalidChaincode], [.valid], [.badCreatorSignature]])
        #expect(try ChannelConfig.latest(height: ledger.height) { try ledger.blockStore.block(number: $0) }.number == 2)
    }

    @Test func configTransactionsThatDoNotFollowTheConfigurationAreInvalid() async throws {
        let channel = try Channel()
        defer { try? FileManager.default.removeItem(at: channel.work) }
        let doctor = try channel.identity("HospitalA", .user, "dr-carter", "HospitalAMSP")
        let adminA = try channel.identity("HospitalA", .user, "admin", "HospitalAMSP")
        let adminB = try channel.identity("HospitalB", .user, "admin", "HospitalBMSP")
        let validator = try channel.checks(channel.config).validator
        func code(_ envelopes: [Data]) async throws -> [Protos_TxValidationCode] {
            let block = try channel.block(1, after: channel.genesis, envelopes, lastConfig: 1)
            let ledger = try Ledger(directory: channel.work.appendingPathComponent("ledger-\(UUID().uuidString)"))
            defer { try? ledger.close() }
            try ledger.commit(channel.genesis)
            return try await validator.validate(block, reader: try ledger.state.makeReader()) { _ in false }.map(\.code)
        }
        // Signed by HospitalB's admin only: the orderer would refuse it; a block carrying it anyway is refused here.
        let byOther = try channel.revocation(of: doctor, signer: adminB)
        var forged = try ConfigUpdateProcessor(current: channel.config).apply(
            try ConfigUpdateProcessor.updateEnvelope(of: try TransactionEnvelope(envelope: try channel.revocation(of: doctor, signer: adminA))), at: Date())
        let wrongUpdate = try ConfigUpdateProcessor.configTransaction(forged, lastUpdate: byOther, signer: channel.orderer, time: Date(), nonce: Array(repeating: 1, count: 24))
        #expect(try await code([try wrongUpdate.serializedData()]) == [.invalidConfigTransaction])
        // A configuration its last update does not produce.
        let goodUpdate = try channel.revocation(of: doctor, signer: adminA)
        var tampered = try TransactionEnvelope(envelope: try ConfigUpdateProcessor.configTransaction(
            forged, lastUpdate: goodUpdate, signer: channel.orderer, time: Date(), nonce: Array(repeating: 2, count: 24)))
        var configEnvelope = try ConfigUpdateProcessor.configEnvelope(of: tampered)
        configEnvelope.config.channelGroup.groups["Application"]!.groups["HospitalBMSP"] = nil
        forged = try ChannelConfig(channelID: "healthchannel", config: configEnvelope.config)
        let mismatched = try ConfigUpdateProcessor.configTransaction(forged, lastUpdate: goodUpdate, signer: channel.orderer, time: Date(), nonce: Array(repeating: 3, count: 24))
        #expect(try await code([try mismatched.serializedData()]) == [.invalidConfigTransaction])
        // A valid config transaction mixed with another transaction is invalid (the other is
        // validated under the configuration as it stands).
        tampered = try TransactionEnvelope(envelope: try ConfigUpdateProcessor.configTransaction(
            try ConfigUpdateProcessor(current: channel.config).apply(try ConfigUpdateProcessor.updateEnvelope(of: try TransactionEnvelope(envelope: goodUpdate)), at: Date()),
            lastUpdate: goodUpdate, signer: channel.orderer, time: Date(), nonce: Array(repeating: 4, count: 24)))
        #expect(try await code([try tampered.envelope.serializedData()]) == [.valid])
        #expect(try await code([try tampered.envelope.serializedData(), try channel.transaction(by: doctor)]) == [.invalidConfigTransaction, .invalidChaincode])
        // A config transaction not signed by an orderer of the channel.
        var unsigned = tampered.envelope
        unsigned.signature = Data(try adminA.sign(unsigned.payload))
        #expect(try await code([try unsigned.serializedData()]) == [.badCreatorSignature])
    }
}
