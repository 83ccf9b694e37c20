import Foundation
import Identity
import NetworkConfig

/// What an orderer needs to know of a channel: its members, who may write and read, and how
/// blocks are cut.
package struct ChannelOrderingSettings: Sendable {
    package let channelID: String
    package let membership: MembershipRegistry
    /// Who may broadcast (Fabric's channel Writers policy).
    package let writers: EndorsementPolicy
    /// Who may receive blocks (Fabric's channel Readers policy).
    package let readers: EndorsementPolicy
    /// Who must sign a block (Fabric's BlockValidation policy): what a following orderer checks
    /// of the blocks it reads from the consensus log, as peers do.
    package let blockValidation: EndorsementPolicy
    package let batchLimits: BatchLimits
    package let batchTimeout: Duration
    /// Whether a cut batch is reordered by its transactions' read/write dependencies before the
    /// block is built (`DependencyReordering`; orderer.yaml `reorderBlocks`).
    package var reordersByDependencies = false
    /// When set, a pending batch is also cut once no envelope has arrived for this long
    /// (orderer.yaml `batchIdleTimeout`).
    package var batchIdleTimeout: Duration?

    package init(
        channelID: String, membership: MembershipRegistry, writers: EndorsementPolicy, readers: EndorsementPolicy,
        blockValidation: EndorsementPolicy, batchLimits: BatchLimits, batchTimeout: Duration
    ) {
        self.channelID = channelID
        self.membership = membership
        self.writers = writers
        self.readers = readers
        self.blockValidation = blockValidation
        self.batchLimits = batchLimits
        self.batchTimeout = batchTimeout
    }
}

extension ChannelOrderingSettings {
    /// Settings from a channel's config block: its organizations (application and orderer), any
    /// member of which may write (Fabric's default Writers); the channel's block readers (its
    /// `BlockReaders` policy: orderers deliver full blocks only); and its batch settings.
    package init(config: ChannelConfig) throws {
        let organizations = config.applicationOrganizations + config.ordererOrganizations
        let members = EndorsementPolicy.or(organizations.map { .signedBy(PolicyPrincipal(mspID: $0.mspID, kind: .member)) })
        self.init(
            channelID: config.channelID,
            membership: MembershipRegistry(try organizations.map { try MembershipServiceProvider($0.msp) }),
            writers: members, readers: config.blockReadersPolicy, blockValidation: config.blockValidationPolicy,
            batchLimits: BatchLimits(
                maxMessageCount: config.batch.maxMessageCount, absoluteMaxBytes: config.batch.absoluteMaxBytes,
                preferredMaxBytes: config.batch.preferredMaxBytes),
            batchTimeout: .milliseconds(config.batch.timeoutMilliseconds))
    }
}
