import Foundation

/// Groups ordered envelopes into batches, one batch per block, by count and size (Fabric's block
/// cutting rules). The batch timeout is the caller's: when it fires with envelopes pending, the
/// caller calls `cut()`. Pure and deterministic, so every orderer cuts the same blocks from the
/// same sequence.
package struct BlockCutter: Sendable {
    package let limits: BatchLimits
    private var pending: [Data] = []
    private var pendingBytes = 0

    package init(limits: BatchLimits) { self.limits = limits }

    package var hasPending: Bool { !pending.isEmpty }

    /// Adds an envelope; returns the batches that became complete (zero, one or two). An envelope
    /// over `absoluteMaxBytes` is refused and changes nothing.
    package mutating func append(_ envelope: Data) throws(OrdererError) -> [[Data]] {
        let size = envelope.count
        guard size <= limits.absoluteMaxBytes else {
            throw OrdererError(.envelopeTooLarge, "envelope of \(size) bytes exceeds the channel's absolute maximum of \(limits.absoluteMaxBytes) bytes")
        }
        var batches: [[Data]] = []
        if size > limits.preferredMaxBytes {
            if hasPending { batches.append(cut()) }
            batches.append([envelope])
            return batches
        }
        if pendingBytes + size > limits.preferredMaxBytes, hasPending {
            batches.append(cut())
        }
        pending.append(envelope)
        pendingBytes += size
        if pending.count >= limits.maxMessageCount {
            batches.append(cut())
        }
        return batches
    }

    /// Returns the pending envelopes as a batch and starts a new one (empty when none pending).
    package mutating func cut() -> [Data] {
        defer {
            pending = []
            pendingBytes = 0
        }
        return pending
    }
}
