import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import X509

/// Builds a channel's genesis block from the network description and its crypto material,
/// shaped like Fabric's (`configtxgen`): one CONFIG envelope whose ConfigEnvelope holds the
/// channel group with Application and Orderer groups, one group per organization (its MSP with
/// NodeOUs, Readers/Writers/Admins/Endorsement signature policies), ImplicitMeta policies above
/// them, and the orderer's BatchSize, BatchTimeout and ConsensusType.
package enum ChannelGenesis {
    /// Where a default endorsement policy that Fabric cannot encode (attribute principals) goes.
    package static let medrexEndorsementPolicyKey = "MedrexEndorsementPolicy"

    package static func makeBlock(network: NetworkDescription, channel name: String, crypto: URL, timestamp: Date) throws -> Common_Block {
        guard let channel = network.channels.first(where: { $0.name == name }) else {
            throw ConfigError(.invalidValue, file: "network description", line: nil, field: "channels", reason: "no channel named '\(name)'")
        }
        var application = Common_ConfigGroup()
        application.modPolicy = "Admins"
        for organizationName in channel.organizations {
            let organization = network.organization(named: organizationName)!
            var group = try organizationGroup(organization, crypto: crypto, writers: [.member])
            if !organization.peers.isEmpty {
                var anchors = Protos_AnchorPeers()
                anchors.anchorPeers = organization.peers.map { peer in
                    var anchor = Protos_AnchorPeer()
                    anchor.host = peer.host
                    anchor.port = Int32(peer.port)
                    return anchor
                }
                group.values["AnchorPeers"] = configValue(try anchors.serializedData())
            }
            application.groups[organization.mspID] = group
        }
        application.policies = implicitMetaPolicies(includingEndorsement: true)
        let policy = try EndorsementPolicy.parse(channel.endorsementPolicy)
        if let encoded = try? SignaturePolicyCodec.encode(policy) {
            application.policies["Endorsement"] = signaturePolicy(try encoded.serializedData())
        } else {
            application.values[medrexEndorsementPolicyKey] = configValue(Data(channel.endorsementPolicy.utf8))
        }

        var orderer = Common_ConfigGroup()
        orderer.modPolicy = "Admins"
        var addresses: [String] = []
        // A solo channel is ordered by one process. Peers pull blocks only from the endpoints listed here.
        let soloOrderer = channel.consensus == .solo ? network.soloOrderer : nil
        for organization in network.organizations where organization.isOrdererOrganization {
            var group = try organizationGroup(organization, crypto: crypto, writers: [.member])
            var endpoints = Common_OrdererAddresses()
            let orderers = soloOrderer.map { solo in organization.orderers.filter { $0 == solo } } ?? organization.orderers
            endpoints.addresses = orderers.map { "\($0.host):\($0.port)" }
            addresses += endpoints.addresses
            group.values["Endpoints"] = configValue(try endpoints.serializedData())
            orderer.groups[organization.mspID] = group
        }
        var batchSize = Orderer_BatchSize()
        batchSize.maxMessageCount = UInt32(channel.batch.maxMessageCount)
        batchSize.absoluteMaxBytes = UInt32(channel.batch.absoluteMaxBytes)
        batchSize.preferredMaxBytes = UInt32(channel.batch.preferredMaxBytes)
        var timeout = Orderer_BatchTimeout()
        timeout.timeout = "\(channel.batch.timeoutMilliseconds)ms"
        var consensus = Orderer_ConsensusType()
        consensus.type = channel.consensus.rawValue
        consensus.metadata = try ChannelConfig.orderingMetadata(channel.ordering)
        orderer.values["BatchSize"] = configValue(try batchSize.serializedData())
        orderer.values["BatchTimeout"] = configValue(try timeout.serializedData())
        orderer.values["ConsensusType"] = configValue(try consensus.serializedData())
        orderer.policies = implicitMetaPolicies(includingEndorsement: false)
        orderer.policies["BlockValidation"] = implicitMetaPolicy("Writers", .any)

        var root = Common_ConfigGroup()
        root.modPolicy = "Admins"
        root.groups["Application"] = application
        root.groups["Orderer"] = orderer
        var hashing = Common_HashingAlgorithm()
        hashing.name = "SHA256"
        var structure = Common_BlockDataHashingStructure()
        structure.width = UInt32.max
        root.values["HashingAlgorithm"] = configValue(try hashing.serializedData())
        root.values["BlockDataHashingStructure"] = configValue(try structure.serializedData())
        root.policies = implicitMetaPolicies(includingEndorsement: false)

        var configEnvelope = Common_ConfigEnvelope()
        configEnvelope.config.sequence = 0
        configEnvelope.config.channelGroup = root
        let nonce = (0..<24).map { _ in UInt8.random(in: 0...255) }
        var channelHeader = Common_ChannelHeader()
        channelHeader.type = Int32(Common_HeaderType.config.rawValue)
        channelHeader.version = 1
        channelHeader.channelID = name
        channelHeader.timestamp = Google_Protobuf_Timestamp(date: timestamp)
        channelHeader.txID = TransactionID.make(nonce: nonce, creator: [])
        var signatureHeader = Common_SignatureHeader()
        signatureHeader.nonce = Data(nonce)
        var payload = Common_Payload()
        payload.header.channelHeader = try channelHeader.serializedData()
        payload.header.signatureHeader = try signatureHeader.serializedData()
        payload.data = try configEnvelope.serializedData()
        var envelope = Common_Envelope()
        envelope.payload = try payload.serializedData()
        var block = Common_Block(number: 0, previousHash: [], envelopes: [try envelope.serializedData()])
        block.setValidationCodes([.valid])
        return block
    }

    private static func organizationGroup(
        _ organization: NetworkDescription.Organization, crypto: URL, writers: [PolicyPrincipal.Kind]
    ) throws -> Common_ConfigGroup {
        let layout = CryptoMaterialLayout(root: crypto, organization: organization.name)
        return try organizationGroup(mspID: organization.mspID, msp: layout.organizationMSP)
    }

    /// The config group of an organization from its MSP folder (`cacerts`, `tlscacerts`, `crls`):
    /// its MSP with NodeOUs, and Readers/Writers/Admins/Endorsement signature policies.
    package static func organizationGroup(mspID: String, msp folder: CryptoMaterialLayout.MSPFolder) throws -> Common_ConfigGroup {
        let caPEM = Data(try String(contentsOf: folder.caCertificate, encoding: .utf8).utf8)
        let tlsPEM = Data(try String(contentsOf: folder.tlsCACertificate, encoding: .utf8).utf8)
        var crls: [Data] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.revocationLists.path))?.sorted() ?? [] {
            crls.append(try Data(contentsOf: folder.revocationLists.appendingPathComponent(name)))
        }
        var fabric = Msp_FabricMSPConfig()
        fabric.name = mspID
        fabric.rootCerts = [caPEM]
        fabric.revocationList = crls
        fabric.tlsRootCerts = [tlsPEM]
        fabric.cryptoConfig.signatureHashFamily = "SHA2"
        fabric.cryptoConfig.identityIdentifierHashFunction = "SHA256"
        func nodeOU(_ unit: String) -> Msp_FabricOUIdentifier {
            var identifier = Msp_FabricOUIdentifier()
            identifier.certificate = caPEM
            identifier.organizationalUnitIdentifier = unit
            return identifier
        }
        fabric.fabricNodeOus.enable = true
        fabric.fabricNodeOus.clientOuIdentifier = nodeOU("client")
        fabric.fabricNodeOus.peerOuIdentifier = nodeOU("peer")
        fabric.fabricNodeOus.adminOuIdentifier = nodeOU("admin")
        fabric.fabricNodeOus.ordererOuIdentifier = nodeOU("orderer")
        var msp = Msp_MSPConfig()
        msp.type = 0
        msp.config = try fabric.serializedData()
        var group = Common_ConfigGroup()
        group.modPolicy = "Admins"
        group.values["MSP"] = configValue(try msp.serializedData())
        let id = mspID
        group.policies["Readers"] = signaturePolicy(try SignaturePolicyCodec.encode(.signedBy(PolicyPrincipal(mspID: id, kind: .member))).serializedData())
        group.policies["Writers"] = signaturePolicy(try SignaturePolicyCodec.encode(.signedBy(PolicyPrincipal(mspID: id, kind: .member))).serializedData())
        group.policies["Admins"] = signaturePolicy(try SignaturePolicyCodec.encode(.signedBy(PolicyPrincipal(mspID: id, kind: .admin))).serializedData())
        group.policies["Endorsement"] = signaturePolicy(try SignaturePolicyCodec.encode(.signedBy(PolicyPrincipal(mspID: id, kind: .peer))).serializedData())
        return group
    }

    private static func configValue(_ value: Data) -> Common_ConfigValue {
        var result = Common_ConfigValue()
        result.value = value
        result.modPolicy = "Admins"
        return result
    }

    private static func signaturePolicy(_ envelope: Data) -> Common_ConfigPolicy {
        var policy = Common_ConfigPolicy()
        policy.modPolicy = "Admins"
        policy.policy.type = Int32(Common_Policy.PolicyType.signature.rawValue)
        policy.policy.value = envelope
        return policy
    }

    private static func implicitMetaPolicy(_ subPolicy: String, _ rule: Common_ImplicitMetaPolicy.Rule) -> Common_ConfigPolicy {
        var meta = Common_ImplicitMetaPolicy()
        meta.subPolicy = subPolicy
        meta.rule = rule
        var policy = Common_ConfigPolicy()
        policy.modPolicy = "Admins"
        policy.policy.type = Int32(Common_Policy.PolicyType.implicitMeta.rawValue)
        policy.policy.value = (try? meta.serializedData()) ?? Data()
        return policy
    }

    private static func implicitMetaPolicies(includingEndorsement: Bool) -> [String: Common_ConfigPolicy] {
        var policies = [
            "Readers": implicitMetaPolicy("Readers", .any),
            "Writers": implicitMetaPolicy("Writers", .any),
            "Admins": implicitMetaPolicy("Admins", .majority),
        ]
        if includingEndorsement { policies["LifecycleEndorsement"] = implicitMetaPolicy("Endorsement", .majority) }
        return policies
    }
}
