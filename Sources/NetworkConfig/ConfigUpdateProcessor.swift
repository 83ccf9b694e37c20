import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf

/// Fabric's configtx validator for one channel configuration: turns a `ConfigUpdateEnvelope`
/// (read set, write set, the admins' signatures) into the next configuration, and checks that a
/// CONFIG transaction's configuration is the one its last update produces.
///
/// An update is accepted when every element of its read set is at the configuration's version;
/// every element of its write set that differs from the read set (the delta) is new at version 0
/// or the next version of an existing element whose `mod_policy` the signatures satisfy (resolved
/// from the element's group, policies of the *current* configuration, signers validated against
/// its MSPs and CRLs); and the resulting configuration is valid: it parses, keeps its consensus
/// type, has an orderer endpoint, and every MSP loads (a CRL must be signed by its CA).
package struct ConfigUpdateProcessor: Sendable {
    package let current: ChannelConfig
    private let membership: MembershipRegistry

    package init(current: ChannelConfig) throws(ConfigUpdateError) {
        self.current = current
        do {
            var providers: [MembershipServiceProvider] = []
            for organization in current.applicationOrganizations + current.ordererOrganizations { providers.append(try MembershipServiceProvider(organization.msp)) }
            membership = MembershipRegistry(providers)
        } catch {
            throw ConfigUpdateError(.invalidResult, "the current configuration's MSPs do not load: \(error.reason)")
        }
    }

    /// The `ConfigUpdateEnvelope` a CONFIG_UPDATE transaction carries.
    package static func updateEnvelope(of transaction: TransactionEnvelope) throws(ConfigUpdateError) -> Common_ConfigUpdateEnvelope {
        guard transaction.headerType == .configUpdate else {
            throw ConfigUpdateError(.malformed, "header type \(transaction.channelHeader.type) is not CONFIG_UPDATE")
        }
        guard let envelope = try? Common_ConfigUpdateEnvelope(serializedBytes: transaction.payload.data) else {
            throw ConfigUpdateError(.malformed, "the CONFIG_UPDATE payload is not a common.ConfigUpdateEnvelope")
        }
        return envelope
    }

    /// The configuration `envelope` produces from the current one (sequence + 1), checking
    /// signatures and certificates at `time`.
    package func apply(_ envelope: Common_ConfigUpdateEnvelope, at time: Date) throws(ConfigUpdateError) -> ChannelConfig {
        guard let update = try? Common_ConfigUpdate(serializedBytes: envelope.configUpdate) else {
            throw ConfigUpdateError(.malformed, "the envelope's config_update is not a common.ConfigUpdate")
        }
        guard update.channelID == current.channelID else {
            throw ConfigUpdateError(.wrongChannel, "the update is for channel '\(update.channelID.prefix(64))', not '\(current.channelID)'")
        }
        let existing = try ConfigTree.flatten(current.config.channelGroup)
        let readSet = update.hasReadSet ? try ConfigTree.flatten(update.readSet) : [:]
        for (id, element) in readSet.sorted(by: { $0.key < $1.key }) {
            guard let now = existing[id] else {
                throw ConfigUpdateError(.staleReadSet, "the read set names \(id), which the configuration does not hold")
            }
            guard now.version == element.version else {
                throw ConfigUpdateError(.staleReadSet, "the update requires \(id) at version \(element.version), but it is at version \(now.version): fetch the configuration again")
            }
        }
        let writeSet = update.hasWriteSet ? try ConfigTree.flatten(update.writeSet) : [:]
        let delta = writeSet.filter { id, element in readSet[id].map { $0.version != element.version } ?? true }
        guard !delta.isEmpty else { throw ConfigUpdateError(.emptyUpdate, "the update changes nothing") }
        let (signers, refused) = signers(of: envelope, at: time)
        let policies = ConfigPolicies(root: current.config.channelGroup)
        for (id, element) in delta.sorted(by: { $0.key < $1.key }) {
            try ConfigTree.checkModPolicy(element.modPolicy, of: id)
            guard let before = existing[id] else {
                guard element.version == 0 else {
                    throw ConfigUpdateError(.badVersion, "the update sets \(id) to version \(element.version), but it does not exist (a new element starts at version 0)")
                }
                continue
            }
            let (next, overflow) = before.version.addingReportingOverflow(1)
            guard !overflow, element.version == next else {
                throw ConfigUpdateError(.badVersion, "the update sets \(id) to version \(element.version), but it is at version \(before.version)")
            }
            // A relative mod_policy is named from the element's group (for a group: the group itself).
            let groupPath = before.kind == .group ? before.path + [before.key] : before.path
            switch policies.evaluate(before.modPolicy, at: groupPath, signers: signers) {
            case .satisfied: continue
            case .missing:
                throw ConfigUpdateError(.policyNotSatisfied, "the mod_policy '\(before.modPolicy.prefix(128))' of \(id) names no policy")
            case .notSatisfied:
                let names = Set(signers.map { "\($0.mspID) \($0.role)" }).sorted().joined(separator: ", ")
                throw ConfigUpdateError(
                    .policyNotSatisfied,
                    "the signatures do not satisfy the mod_policy '\(before.modPolicy.prefix(128))' of \(id) (valid signatures: \(signers.count)\(names.isEmpty ? "" : " by \(names)")"
                        + (refused.isEmpty ? "" : "; refused: \(refused.joined(separator: "; "))") + ")")
            }
        }
        var elements = existing
        for (id, element) in delta { elements[id] = element }
        var config = Common_Config()
        config.sequence = current.config.sequence &+ 1
        config.channelGroup = try ConfigTree.rebuild(elements)
        return try checkedSuccessor(config)
    }

    /// The configuration a CONFIG transaction's envelope sets, after checking that its sequence is
    /// the next one and that its last update, applied to the current configuration at `time` (the
    /// transaction's timestamp), produces exactly it.
    package func verify(_ configEnvelope: Common_ConfigEnvelope, at time: Date) throws(ConfigUpdateError) -> ChannelConfig {
        guard configEnvelope.hasConfig, configEnvelope.hasLastUpdate else {
            throw ConfigUpdateError(.malformed, "the CONFIG envelope needs a config and its last update")
        }
        guard configEnvelope.config.sequence == current.config.sequence &+ 1 else {
            throw ConfigUpdateError(.mismatch, "the configuration has sequence \(configEnvelope.config.sequence), but the next is \(current.config.sequence &+ 1)")
        }
        let lastUpdate: TransactionEnvelope
        do {
            lastUpdate = try TransactionEnvelope(envelope: configEnvelope.lastUpdate)
        } catch {
            throw ConfigUpdateError(.malformed, "the last update is not a valid envelope: \(error.reason)")
        }
        let produced = try apply(try Self.updateEnvelope(of: lastUpdate), at: time)
        guard produced.config == configEnvelope.config else {
            throw ConfigUpdateError(.mismatch, "the last update does not produce the configuration the CONFIG transaction carries")
        }
        return produced
    }

    /// The valid, distinct signers of the update's signatures, and why the others were refused.
    private func signers(of envelope: Common_ConfigUpdateEnvelope, at time: Date) -> (signers: [PolicySigner], refused: [String]) {
        var signers: [PolicySigner] = []
        var refused: [String] = []
        for (index, signature) in envelope.signatures.enumerated() {
            guard let header = try? Common_SignatureHeader(serializedBytes: signature.signatureHeader), !header.creator.isEmpty else {
                refused.append("signature \(index): no signature header with a creator")
                continue
            }
            do {
                let identity = try membership.verify(
                    signature: signature.signature, over: signature.signatureHeader + envelope.configUpdate, by: header.creator, at: time)
                if !signers.contains(where: { $0.identityID == identity.identityID }) { signers.append(identity.policySigner) }
            } catch {
                refused.append("signature \(index): \(error.reason)")
            }
        }
        return (signers, refused)
    }

    /// `config` as a channel configuration, if it may follow the current one.
    private func checkedSuccessor(_ config: Common_Config) throws(ConfigUpdateError) -> ChannelConfig {
        let next: ChannelConfig
        do {
            next = try ChannelConfig(channelID: current.channelID, config: config)
        } catch {
            throw ConfigUpdateError(.invalidResult, "the resulting configuration is not valid: \(error.reason)")
        }
        guard next.consensusType == current.consensusType else {
            throw ConfigUpdateError(.invalidResult, "the update changes the consensus type from '\(current.consensusType)' to '\(next.consensusType.prefix(64))', which is not supported")
        }
        guard !next.ordererAddresses.isEmpty else {
            throw ConfigUpdateError(.invalidResult, "the update would leave the channel without an orderer endpoint")
        }
        let organizations = next.applicationOrganizations + next.ordererOrganizations
        guard Set(organizations.map(\.mspID)).count == organizations.count else {
            throw ConfigUpdateError(.invalidResult, "two organizations of the resulting configuration name the same MSP id")
        }
        for organization in organizations {
            do {
                _ = try MembershipServiceProvider(organization.msp)
            } catch {
                throw ConfigUpdateError(.invalidResult, "organization \(organization.mspID) would not load: \(error.reason)")
            }
        }
        return next
    }
}

extension ConfigUpdateProcessor {
    /// The CONFIG transaction an orderer orders for `config`: a ConfigEnvelope with the update that
    /// produced it, signed by the orderer, timestamped `time` (the time peers check the update's
    /// signers at).
    package static func configTransaction(
        _ config: ChannelConfig, lastUpdate: Common_Envelope, signer: SigningIdentity, time: Date, nonce: [UInt8]
    ) throws -> Common_Envelope {
        var configEnvelope = Common_ConfigEnvelope()
        configEnvelope.config = config.config
        configEnvelope.lastUpdate = lastUpdate
        return try .signed(.config, channelID: config.channelID, data: try configEnvelope.serializedData(), signer: signer, time: time, nonce: nonce, version: 1)
    }

    /// The ConfigEnvelope of a CONFIG transaction.
    package static func configEnvelope(of transaction: TransactionEnvelope) throws(ConfigUpdateError) -> Common_ConfigEnvelope {
        guard transaction.headerType == .config, let envelope = try? Common_ConfigEnvelope(serializedBytes: transaction.payload.data) else {
            throw ConfigUpdateError(.malformed, "not a CONFIG transaction holding a common.ConfigEnvelope")
        }
        return envelope
    }
}
