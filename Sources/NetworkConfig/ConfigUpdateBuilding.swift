import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf

/// Makes configuration updates the way Fabric's tools do: the update between two configurations
/// (`configtxlator compute_update`), admins' signatures over it (`peer channel signconfigtx`) and
/// the CONFIG_UPDATE transaction that carries it to the orderer (`peer channel update`).
package enum ConfigUpdateBuilding {
    /// The update that turns `original` into `updated` (both channel groups): for every group on
    /// the way to a change, its version in the read set; a changed value or policy at its next
    /// version in the write set; a group whose members (children, mod_policy) change at its next
    /// version, listing all its remaining children. Throws when nothing differs.
    package static func computeUpdate(channelID: String, original: Common_ConfigGroup, updated: Common_ConfigGroup) throws(ConfigUpdateError) -> Common_ConfigUpdate {
        let (readSet, writeSet, changed) = groupUpdate(original, updated)
        guard changed else { throw ConfigUpdateError(.emptyUpdate, "the two configurations do not differ") }
        var update = Common_ConfigUpdate()
        update.channelID = channelID
        update.readSet = readSet
        update.writeSet = writeSet
        return update
    }

    private static func groupUpdate(_ original: Common_ConfigGroup, _ updated: Common_ConfigGroup) -> (read: Common_ConfigGroup, write: Common_ConfigGroup, changed: Bool) {
        var read = Common_ConfigGroup()
        var write = Common_ConfigGroup()
        read.version = original.version
        write.version = original.version
        var membersChanged = original.modPolicy != updated.modPolicy
        var sameValues: [String: Common_ConfigValue] = [:]
        var samePolicies: [String: Common_ConfigPolicy] = [:]
        var sameGroups: [String: Common_ConfigGroup] = [:]

        for (name, value) in original.values {
            guard let new = updated.values[name] else { membersChanged = true; continue }
            if new.value == value.value, new.modPolicy == value.modPolicy {
                var same = Common_ConfigValue()
                same.version = value.version
                sameValues[name] = same
            } else {
                var changed = new
                changed.version = value.version &+ 1
                write.values[name] = changed
            }
        }
        for (name, value) in updated.values where original.values[name] == nil {
            membersChanged = true
            var added = value
            added.version = 0
            write.values[name] = added
        }
        for (name, policy) in original.policies {
            guard let new = updated.policies[name] else { membersChanged = true; continue }
            if new.policy == policy.policy, new.modPolicy == policy.modPolicy {
                var same = Common_ConfigPolicy()
                same.version = policy.version
                samePolicies[name] = same
            } else {
                var changed = new
                changed.version = policy.version &+ 1
                write.policies[name] = changed
            }
        }
        for (name, policy) in updated.policies where original.policies[name] == nil {
            membersChanged = true
            var added = policy
            added.version = 0
            write.policies[name] = added
        }
        for (name, group) in original.groups {
            guard let new = updated.groups[name] else { membersChanged = true; continue }
            let (childRead, childWrite, changed) = groupUpdate(group, new)
            if changed {
                read.groups[name] = childRead
                write.groups[name] = childWrite
            } else {
                var same = Common_ConfigGroup()
                same.version = group.version
                sameGroups[name] = same
            }
        }
        for (name, group) in updated.groups where original.groups[name] == nil {
            membersChanged = true
            write.groups[name] = zeroVersions(group)
        }

        guard membersChanged else {
            let changed = !(write.values.isEmpty && write.policies.isEmpty && write.groups.isEmpty)
            return (read, write, changed)
        }
        for (name, same) in sameValues { read.values[name] = same; write.values[name] = same }
        for (name, same) in samePolicies { read.policies[name] = same; write.policies[name] = same }
        for (name, same) in sameGroups { read.groups[name] = same; write.groups[name] = same }
        write.version = original.version &+ 1
        write.modPolicy = updated.modPolicy
        return (read, write, true)
    }

    /// A new group as an update adds it: every element at version 0.
    private static func zeroVersions(_ group: Common_ConfigGroup) -> Common_ConfigGroup {
        var result = group
        result.version = 0
        for name in result.values.keys { result.values[name]!.version = 0 }
        for name in result.policies.keys { result.policies[name]!.version = 0 }
        for (name, child) in group.groups { result.groups[name] = zeroVersions(child) }
        return result
    }

    /// `signer`'s signature over the update (Fabric's ConfigSignature: over the signature header
    /// followed by the update's bytes).
    package static func sign(_ configUpdate: Data, as signer: SigningIdentity) throws -> Common_ConfigSignature {
        var header = Common_SignatureHeader()
        header.creator = Data(signer.serialized)
        header.nonce = Data((0..<24).map { _ in UInt8.random(in: 0...255) })
        var signature = Common_ConfigSignature()
        signature.signatureHeader = try header.serializedData()
        signature.signature = Data(try signer.sign(signature.signatureHeader + configUpdate))
        return signature
    }

    /// The CONFIG_UPDATE transaction carrying `envelope` to the orderer, signed by `submitter`
    /// (who must satisfy the channel's Writers policy).
    package static func transaction(_ envelope: Common_ConfigUpdateEnvelope, channelID: String, submitter: SigningIdentity, time: Date) throws -> Common_Envelope {
        try .signed(.configUpdate, channelID: channelID, data: try envelope.serializedData(), signer: submitter, time: time)
    }
}
