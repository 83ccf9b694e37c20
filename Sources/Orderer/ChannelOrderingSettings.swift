import Foundation
import Identity

/// What an orderer needs to know of a channel: its members, who may write and read, and how
/// blocks are cut.
package struct ChannelOrderingSettings: Sendable {
    package let channelID: String
    package let membership: MembershipRegistry
    /// Who may broadcast (Fabric's channel Writers policy).
    package let writers: EndorsementPolicy
    /// Who may receive blocks (Fabric's channel Readers policy).
    package let readers: EndorsementPolicy
    package let batchLimits: BatchLimits
    package let batchTimeout: Duration

    package init(
        channelID: String, membership: MembershipRegistry, writers: EndorsementPolicy, readers: EndorsementPolicy,
        batchLimits: BatchLimits, batchTimeout: Duration
    ) {
        self.channelID = channelID
        self.membership = membership
        self.writers = writers
        self.readers = readers
        self.batchLimits = batchLimits
        self.batchTimeout = batchTimeout
    }
}
