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
    package var batchLimits: BatchLimits
    package let batchTimeout: Duration
    /// Whether a cut batch is reordered by its transactions' read/write dependencies before the
    /// block is built (`DependencyReordering`; the channel configuration's `reorderBlocks`).
    package var reordersByDependencies = false
    /// When set, a pending batch is also cut once no envelope has arrived for this long
    /// (the channel configuration's `batchIdleTimeout`).
    package var batchIdleTimeout: Duration?
    /// The channel configuration these settings come from, which configuration updates apply to;
    /// nil for settings made by hand (such a channel refuses configuration updates).
    package var config: ChannelConfig?
    /// The largest block this chain may cut, whatever the channel's AbsoluteMaxBytes (the etcd
    /// chain's log values are bounded).
    package var blockBytesCap: Int?

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
        var settings = ChannelOrderingSettings(
            channelID: config.channelID,
            membership: MembershipRegistry(try organizations.map { try MembershipServiceProvider($0.msp) }),
            writers: members, readers: config.blockReadersPolicy, blockValidation: config.blockValidationPolicy,
            batchLimits: BatchLimits(
                maxMessageCount: config.batch.maxMessageCount, absoluteMaxBytes: config.batch.absoluteMaxBytes,
                preferredMaxBytes: config.batch.preferredMaxBytes),
            batchTimeout: .milliseconds(config.batch.timeoutMilliseconds))
        settings.reordersByDependencies = config.ordering.reorderBlocks
        settings.batchIdleTimeout = config.ordering.idleTimeoutMilliseconds.map { .milliseconds($0) }
        settings.config = config
        self = settings
    }

    /// The settings from a new configuration of the channel, keeping this orderer's block size cap.
    package func successor(_ config: ChannelConfig) throws -> ChannelOrderingSettings {
        try ChannelOrderingSettings(config: config).capped(at: blockBytesCap)
    }

    /// The settings with blocks of at most `cap` bytes (nil: as they are).
    package func capped(at cap: Int?) -> ChannelOrderingSettings {
        guard let cap else { return self }
        var capped = self
        capped.blockBytesCap = cap
        let absoluteMax = min(batchLimits.absoluteMaxBytes, cap)
        capped.batchLimits = BatchLimits(
            maxMessageCount: batchLimits.maxMessageCount, absoluteMaxBytes: absoluteMax, preferredMaxBytes: min(batchLimits.preferredMaxBytes, absoluteMax))
        return capped
    }
}
