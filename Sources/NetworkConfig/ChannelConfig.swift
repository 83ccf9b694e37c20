import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import X509

/// A channel's configuration as a config block carries it (Fabric's shape: the `Channel` group
/// with `Application` and `Orderer` sub-groups, one group per organization holding its `MSP`
/// value and Readers/Writers/Admins policies, and the orderer's batch and consensus values).
package struct ChannelConfig: Sendable {
    package struct Organization: Sendable {
        package let mspID: String
        package let msp: MSPConfiguration
        package let tlsRootCertificates: [Certificate]
        /// The organization's anchor peers, `host:port` (application organizations only).
        package let anchorPeers: [String]
    }

    package let channelID: String
    package let applicationOrganizations: [Organization]
    package let ordererOrganizations: [Organization]
    package let batch: NetworkDescription.BatchSettings
    package let consensusType: String
    /// Medrex's ordering switches (reordering, idle cut), from the ConsensusType value's metadata.
    package let ordering: NetworkDescription.OrderingSwitches
    package let ordererAddresses: [String]
    /// The channel's default chaincode endorsement policy, when the block carries one.
    package let endorsementPolicy: EndorsementPolicy?
    /// The channel's `BlockReaders` signature policy, when the block carries one (see
    /// `blockReadersPolicy`).
    package let blockReaders: EndorsementPolicy?

    /// The configuration tree as the config block carries it (with its sequence): what
    /// configuration updates apply to.
    package let config: Common_Config

    /// Reads the configuration from a config block (a genesis block or a later config block).
    package init(block: Common_Block) throws(ConfigError) {
        func fail(_ reason: String) -> ConfigError { ConfigError(.invalidValue, file: "config block \(block.header.number)", line: nil, field: "", reason: reason) }
        guard block.data.data.count == 1, let transaction = try? TransactionEnvelope(serialized: block.data.data[0]), transaction.headerType == .config else {
            throw fail("not a config block: it must hold exactly one CONFIG envelope")
        }
        guard let envelope = try? Common_ConfigEnvelope(serializedBytes: transaction.payload.data), envelope.hasConfig else {
            throw fail("the CONFIG envelope does not hold a common.ConfigEnvelope")
        }
        try self.init(channelID: transaction.channelHeader.channelID, config: envelope.config, source: "config block \(block.header.number)")
    }

    /// Reads the configuration of channel `channelID` from its configuration tree.
    package init(channelID: String, config: Common_Config, source: String = "channel configuration") throws(ConfigError) {
        func fail(_ reason: String) -> ConfigError { ConfigError(.invalidValue, file: source, line: nil, field: "", reason: reason) }
        self.config = config
        let root = config.channelGroup
        self.channelID = channelID
        guard let application = root.groups["Application"], let orderer = root.groups["Orderer"] else {
            throw fail("the channel group has no Application or no Orderer group")
        }
        applicationOrganizations = try application.groups.keys.sorted().map { name throws(ConfigError) in try Self.organization(name, application.groups[name]!, fail) }
        ordererOrganizations = try orderer.groups.keys.sorted().map { name throws(ConfigError) in try Self.organization(name, orderer.groups[name]!, fail) }
        // The channel's policies are ORs over these: an empty list would be a policy nobody satisfies.
        guard !applicationOrganizations.isEmpty, !ordererOrganizations.isEmpty else {
            throw fail("the channel needs at least one application organization and one orderer organization")
        }
        guard let batchSize = orderer.values["BatchSize"].flatMap({ try? Orderer_BatchSize(serializedBytes: $0.value) }),
            let timeout = orderer.values["BatchTimeout"].flatMap({ try? Orderer_BatchTimeout(serializedBytes: $0.value) }),
            let milliseconds = Self.milliseconds(timeout.timeout)
        else { throw fail("the Orderer group has no valid BatchSize or BatchTimeout") }
        guard (1...Limits.blockTransactionCountMax).contains(Int(batchSize.maxMessageCount)), batchSize.preferredMaxBytes >= 1,
            batchSize.preferredMaxBytes <= batchSize.absoluteMaxBytes, milliseconds >= 1
        else {
            throw fail(
                "the Orderer group's BatchSize needs 1 <= MaxMessageCount <= \(Limits.blockTransactionCountMax) and 1 <= PreferredMaxBytes <= AbsoluteMaxBytes, and a BatchTimeout of at least 1ms")
        }
        batch = NetworkDescription.BatchSettings(
            maxMessageCount: Int(batchSize.maxMessageCount), absoluteMaxBytes: Int(batchSize.absoluteMaxBytes),
            preferredMaxBytes: Int(batchSize.preferredMaxBytes), timeoutMilliseconds: milliseconds)
        let consensus = orderer.values["ConsensusType"].flatMap { try? Orderer_ConsensusType(serializedBytes: $0.value) }
        consensusType = consensus?.type ?? ""
        // Only Medrex's consensus types carry the switches (Fabric's etcdraft and BFT carry their own metadata).
        let medrex = ["solo", "etcd"].contains(consensusType)
        guard let ordering = medrex ? Self.ordering(metadata: consensus?.metadata ?? Data()) : NetworkDescription.OrderingSwitches() else {
            throw fail("the ConsensusType metadata does not hold valid Medrex ordering switches")
        }
        self.ordering = ordering
        var addresses = root.values["OrdererAddresses"].flatMap { try? Common_OrdererAddresses(serializedBytes: $0.value) }?.addresses ?? []
        for group in orderer.groups.values {
            addresses += group.values["Endpoints"].flatMap { try? Common_OrdererAddresses(serializedBytes: $0.value) }?.addresses ?? []
        }
        ordererAddresses = addresses
        blockReaders = Self.signaturePolicy(root.policies[Self.blockReadersPolicyName])
        if let policy = application.policies["Endorsement"]?.policy, policy.type == Int32(Common_Policy.PolicyType.signature.rawValue),
            let envelope = try? Common_SignaturePolicyEnvelope(serializedBytes: policy.value)
        {
            endorsementPolicy = try? SignaturePolicyCodec.decode(envelope)
        } else if let text = application.values[ChannelGenesis.medrexEndorsementPolicyKey].map({ String(decoding: $0.value, as: UTF8.self) }) {
            endorsementPolicy = try? EndorsementPolicy.parse(text)
        } else {
            endorsementPolicy = nil
        }
    }

    /// The configuration as of a ledger's last block, and the number of the config block it comes
    /// from: the block that the last block's metadata names as the last config (block 0 when it
    /// names none). `block` reads a block of the ledger.
    package static func latest(height: UInt64, block: (UInt64) throws -> Common_Block?) throws -> (config: ChannelConfig, number: UInt64) {
        guard height > 0, let last = try block(height - 1) else {
            throw ConfigError(.invalidValue, file: "ledger", line: nil, field: "", reason: "the ledger holds no block")
        }
        let number = min(last.lastConfigIndex ?? 0, height - 1)
        guard let configBlock = try block(number) else {
            throw ConfigError(.invalidValue, file: "ledger", line: nil, field: "", reason: "the ledger lacks its last config block \(number)")
        }
        return (try ChannelConfig(block: configBlock), number)
    }

    /// The ConsensusType metadata that carries `ordering` (empty when both switches are off): a
    /// `google.protobuf.Struct` with `reorderBlocks` (bool) and `batchIdleTimeout` (`"2ms"`).
    /// Protobuf, so that Fabric's configtxlator, which decodes the metadata of consensus types
    /// other than its own as an empty message, still decodes the configuration.
    package static func orderingMetadata(_ ordering: NetworkDescription.OrderingSwitches) throws -> Data {
        guard ordering != NetworkDescription.OrderingSwitches() else { return Data() }
        var metadata = Google_Protobuf_Struct()
        metadata.fields["reorderBlocks"] = Google_Protobuf_Value(boolValue: ordering.reorderBlocks)
        if let idle = ordering.idleTimeoutMilliseconds { metadata.fields["batchIdleTimeout"] = Google_Protobuf_Value(stringValue: "\(idle)ms") }
        return try metadata.serializedData()
    }

    /// The switches in a ConsensusType metadata; nil when it holds something else.
    static func ordering(metadata: Data) -> NetworkDescription.OrderingSwitches? {
        guard !metadata.isEmpty else { return NetworkDescription.OrderingSwitches() }
        guard let fields = (try? Google_Protobuf_Struct(serializedBytes: metadata))?.fields, Set(fields.keys).isSubset(of: ["reorderBlocks", "batchIdleTimeout"])
        else { return nil }
        var ordering = NetworkDescription.OrderingSwitches()
        if let value = fields["reorderBlocks"] {
            guard case .boolValue(let reorder) = value.kind else { return nil }
            ordering.reorderBlocks = reorder
        }
        if let value = fields["batchIdleTimeout"] {
            guard case .stringValue(let text) = value.kind, let idle = milliseconds(text), idle >= 1 else { return nil }
            ordering.idleTimeoutMilliseconds = idle
        }
        return ordering
    }

    /// The name of the channel-level policy that says who may read full blocks.
    package static let blockReadersPolicyName = "BlockReaders"

    private static func signaturePolicy(_ policy: Common_ConfigPolicy?) -> EndorsementPolicy? {
        guard let policy = policy?.policy, policy.type == Int32(Common_Policy.PolicyType.signature.rawValue),
            let envelope = try? Common_SignaturePolicyEnvelope(serializedBytes: policy.value)
        else { return nil }
        return try? SignaturePolicyCodec.decode(envelope)
    }

    private static func organization(_ name: String, _ group: Common_ConfigGroup, _ fail: (String) -> ConfigError) throws(ConfigError) -> Organization {
        guard let value = group.values["MSP"], let msp = try? Msp_MSPConfig(serializedBytes: value.value), msp.type == 0,
            let fabric = try? Msp_FabricMSPConfig(serializedBytes: msp.config)
        else { throw fail("organization \(name) has no X.509 MSP definition") }
        func certificates(_ list: [Data]) throws(ConfigError) -> [Certificate] {
            var result: [Certificate] = []
            for pem in list {
                guard let certificate = try? Certificate(pemEncoded: String(decoding: pem, as: UTF8.self)) else {
                    throw fail("organization \(name) has a certificate that does not parse")
                }
                result.append(certificate)
            }
            return result
        }
        var revocationLists: [CertificateRevocationList] = []
        for pem in fabric.revocationList {
            guard let list = try? CertificateRevocationList(pemEncoded: String(decoding: pem, as: UTF8.self)) else {
                throw fail("organization \(name) has a CRL that does not parse")
            }
            revocationLists.append(list)
        }
        return Organization(
            mspID: fabric.name,
            msp: MSPConfiguration(
                mspID: fabric.name, rootCertificates: try certificates(fabric.rootCerts),
                intermediateCertificates: try certificates(fabric.intermediateCerts), revocationLists: revocationLists),
            tlsRootCertificates: try certificates(fabric.tlsRootCerts),
            anchorPeers: group.values["AnchorPeers"].flatMap { try? Protos_AnchorPeers(serializedBytes: $0.value) }?.anchorPeers.map { "\($0.host):\($0.port)" } ?? [])
    }

    /// A Go duration such as `250ms`, `2s` or `1m` in milliseconds.
    static func milliseconds(_ text: String) -> Int? {
        for (suffix, factor) in [("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)] where text.hasSuffix(suffix) {
            // Untrusted text: an infinite, negative or huge value is refused, never converted with a trap.
            guard let value = Double(text.dropLast(suffix.count)), value.isFinite, value >= 0 else { return nil }
            return Int(exactly: (value * factor).rounded()).flatMap { $0 <= Int(Int32.max) ? $0 : nil }
        }
        return nil
    }
}

extension ChannelConfig {
    /// Who must sign a block for peers to accept it: any orderer of an orderer organization
    /// (Fabric's default BlockValidation policy, `ANY Writers` of the Orderer group).
    package var blockValidationPolicy: EndorsementPolicy {
        .or(ordererOrganizations.map { .signedBy(PolicyPrincipal(mspID: $0.mspID, kind: .orderer)) })
    }

    /// The policy of `_lifecycle` transactions: a majority of the application organizations' peers
    /// (Fabric's default `LifecycleEndorsement`, `MAJORITY Endorsement`).
    package var lifecycleEndorsementPolicy: EndorsementPolicy {
        let peers = applicationOrganizations.map { EndorsementPolicy.signedBy(PolicyPrincipal(mspID: $0.mspID, kind: .peer)) }
        return .outOf(count: peers.count / 2 + 1, peers)
    }

    /// Who may receive full blocks (Deliver, not DeliverFiltered): full blocks carry who was
    /// treated where, consents and audit entries. The channel's `BlockReaders` policy, or by
    /// default the peers and admins of every application organization and their auditors
    /// (clients with `role=auditor`), and the orderers and admins of every orderer organization.
    /// Other members (clinicians, patients) get filtered blocks and their own transactions'
    /// status; patients read their data through chaincode queries.
    package var blockReadersPolicy: EndorsementPolicy {
        if let blockReaders { return blockReaders }
        let application = applicationOrganizations.flatMap { organization in
            [PolicyPrincipal(mspID: organization.mspID, kind: .peer), PolicyPrincipal(mspID: organization.mspID, kind: .admin),
             PolicyPrincipal(mspID: organization.mspID, kind: .client, attributes: ["role": "auditor"])]
        }
        let ordering = ordererOrganizations.flatMap { organization in
            [PolicyPrincipal(mspID: organization.mspID, kind: .orderer), PolicyPrincipal(mspID: organization.mspID, kind: .admin)]
        }
        return .or((application + ordering).map { .signedBy($0) })
    }

    /// The TLS root CAs (PEM) of every organization of the channel, which its nodes' servers trust.
    package var tlsRootCertificatePEMs: [String] {
        (applicationOrganizations + ordererOrganizations).flatMap { $0.tlsRootCertificates.compactMap { try? $0.serializeAsPEM().pemString } }
    }

    /// The endorsement policy of chaincodes without one of their own: the channel's, or else a
    /// majority of the application organizations' peers (Fabric's `MAJORITY Endorsement`).
    package var chaincodeEndorsementPolicy: EndorsementPolicy {
        endorsementPolicy ?? lifecycleEndorsementPolicy
    }
}
