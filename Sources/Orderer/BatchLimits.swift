/// A channel's block-cutting settings, as Fabric's orderer `BatchSize` holds them.
package struct BatchLimits: Sendable, Hashable {
    /// Most envelopes in one block.
    package var maxMessageCount: Int
    /// Largest envelope accepted at all; larger ones are refused at Broadcast.
    package var absoluteMaxBytes: Int
    /// Target block size: a block is cut before an envelope would take it past this size, and an
    /// envelope larger than this goes into a block of its own.
    package var preferredMaxBytes: Int

    package init(maxMessageCount: Int, absoluteMaxBytes: Int, preferredMaxBytes: Int) {
        precondition(maxMessageCount >= 1, "maxMessageCount must be at least 1")
        precondition(preferredMaxBytes >= 1 && preferredMaxBytes <= absoluteMaxBytes, "need 1 <= preferredMaxBytes <= absoluteMaxBytes")
        self.maxMessageCount = maxMessageCount
        self.absoluteMaxBytes = absoluteMaxBytes
        self.preferredMaxBytes = preferredMaxBytes
    }
}
