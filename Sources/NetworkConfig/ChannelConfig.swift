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
    package let ordererAddresses: [String]
    /// The channel's default chaincode endorsement policy, when the block carries one.
    package let endorsementPolicy: EndorsementPolicy?

    /// Reads the configuration from a config block (a genesis block or a later config block).
    package init(block: Common_Block) throws(ConfigError) {
        func fail(_ reason: String) -> ConfigError { ConfigError(.invalidValue, file: "config block \(block.header.number)", line: nil, field: "", reason: reason) }
        guard block.data.data.count == 1, let transaction = try? TransactionEnvelope(serialized: block.data.data[0]), transaction.headerType == .config else {
            throw fail("not a config block: it must hold exactly one CONFIG envelope")
        }
        guard let envelope = try? Common_ConfigEnvelope(serializedBytes: transaction.payload.data), envelope.hasConfig else {
            throw fail("the CONFIG envelope does not hold a common.ConfigEnvelope")
        }
        let root = envelope.config.channelGroup
        channelID = transaction.channelHeader.channelID
        guard let application = root.groups["Application"], let orderer = root.groups["Orderer"] else {
            throw fail("the channel group has no Application or no Orderer group")
        }
        applicationOrganizations = try application.groups.keys.sorted().map { name throws(ConfigError) in try Self.organization(name, application.groups[name]!, fail) }
        ordererOrganizations = try orderer.groups.keys.sorted().map { name throws(ConfigError) in try Self.organization(name, orderer.groups[name]!, fail) }
        guard let batchSize = orderer.values["BatchSize"].flatMap({ try? Orderer_BatchSize(serializedBytes: $0.value) }),
            let timeout = orderer.values["BatchTimeout"].flatMap({ try? Orderer_BatchTimeout(serializedBytes: $0.value) }),
            let milliseconds = Self.milliseconds(timeout.timeout)
        else { throw fail("the Orderer group has no valid BatchSize or BatchTimeout") }
        batch = NetworkDescription.BatchSettings(
            maxMessageCount: Int(batchSize.maxMessageCount), absoluteMaxBytes: Int(batchSize.absoluteMaxBytes),
            preferredMaxBytes: Int(batchSize.preferredMaxBytes), timeoutMilliseconds: milliseconds)
        consensusType = orderer.values["ConsensusType"].flatMap { try? Orderer_ConsensusType(serializedBytes: $0.value) }?.type ?? ""
        var addresses = root.values["OrdererAddresses"].flatMap { try? Common_OrdererAddresses(serializedBytes: $0.value) }?.addresses ?? []
        for group in orderer.groups.values {
            addresses += group.values["Endpoints"].flatMap { try? Common_OrdererAddresses(serializedBytes: $0.value) }?.addresses ?? []
        }
        ordererAddresses = addresses
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
            if let value = Double(text.dropLast(suffix.count)) { return Int(value * factor) }
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

    /// The endorsement policy of chaincodes without one of their own: the channel's, or else a
    /// majority of the application organizations' peers (Fabric's `MAJORITY Endorsement`).
    package var chaincodeEndorsementPolicy: EndorsementPolicy {
        endorsementPolicy ?? lifecycleEndorsementPolicy
    }
}
