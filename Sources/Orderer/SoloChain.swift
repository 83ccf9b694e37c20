import BlockIntegrity
import Foundation
import Identity
import LedgerCore
import LedgerWire
import Logging
import SwiftProtobuf
import WorldState

/// The `solo` ordering service of one channel: one process orders every envelope it accepts,
/// cuts blocks by count, size and timeout, signs them and appends them to its block store.
///
/// A broadcast answers SUCCESS only once the block holding its envelope is fsynced, so an
/// acknowledged envelope survives a crash of the orderer. Envelopes are ordered in arrival order.
package actor SoloChain: OrderingChain {
    package static let consensusType = "solo"
    package private(set) var settings: ChannelOrderingSettings
    /// The number of the last config block, which every block's metadata names.
    private var lastConfigNumber: UInt64
    private let blockStore: any BlockStorage
    private let signer: SigningIdentity
    private let clock: any LedgerClock
    private let logger: Logger
    /// Validation, cutting and timers: the front half every chain shares.
    private var batcher: BlockBatcher
    private let readers: ChainHeightWaiters
    private let onBlockStored: @Sendable (Common_Block) -> Void

    /// - Parameters:
    ///   - settings: The channel's settings as of its last config block, `lastConfigNumber`.
    package init(
        settings: ChannelOrderingSettings, lastConfigNumber: UInt64 = 0, blockStore: any BlockStorage, signer: SigningIdentity,
        clock: any LedgerClock = SystemClock(), logger: Logger = Logger(label: "medrex.orderer"),
        onBlockStored: @escaping @Sendable (Common_Block) -> Void = { _ in }
    ) {
        self.onBlockStored = onBlockStored
        self.settings = settings
        self.lastConfigNumber = lastConfigNumber
        batcher = BlockBatcher(settings: settings, signer: signer)
        self.blockStore = blockStore
        self.signer = signer
        self.clock = clock
        self.logger = logger
        readers = ChainHeightWaiters(height: blockStore.height)
    }

    package var height: UInt64 { blockStore.height }

    /// Validates one envelope and queues it for the next block; the receipt resolves when its
    /// block is stored, or at once with the refusal.
    package func submit(_ envelope: Common_Envelope) -> BroadcastReceipt {
        let (receipt, batches, checks) = batcher.accept(envelope, clock: clock)
        for batch in batches { writeBlock(batch) }
        schedule(checks)
        return receipt
    }

    private func schedule(_ checks: [BlockBatcher.Check]) {
        for check in checks {
            clock.schedule(after: check.delay) { [weak self] in await self?.fire(check) }
        }
    }

    private func fire(_ check: BlockBatcher.Check) {
        let (batch, checks) = batcher.fire(check, clock: clock)
        if let batch { writeBlock(batch) }
        schedule(checks)
    }

    /// Builds, signs and stores the next block; answers its envelopes' broadcasters.
    private func writeBlock(_ batch: BlockBatcher.Batch) {
        // Every envelope of the batch gets the same outcome, so reordering leaves the receipts as they are.
        let ordered = settings.reordersByDependencies ? DependencyReordering.reorder(batch.envelopes).envelopes : batch.envelopes
        var block = Common_Block(number: blockStore.height, previousHash: blockStore.lastHeaderHash, envelopes: ordered)
        let outcome: BroadcastOutcome
        do {
            let lastConfig = batch.configuration == nil ? lastConfigNumber : block.header.number
            try block.signAsOrderer(signer, lastConfigIndex: lastConfig, time: clock.now, nonce: (0..<24).map { _ in UInt8.random(in: 0...255) })
            try blockStore.append(block)
            onBlockStored(block)
            if let next = batch.configuration {
                settings = next
                lastConfigNumber = block.header.number
                logger.notice("channel configuration updated", metadata: [
                    "channel": "\(settings.channelID)", "block": "\(block.header.number)", "sequence": "\(next.config?.config.sequence ?? 0)",
                ])
            }
            outcome = .success
        } catch {
            logger.error("block could not be stored", metadata: ["block": "\(block.header.number)", "error": "\(error)"])
            outcome = BroadcastOutcome(status: .serviceUnavailable, info: "the orderer could not store the block")
            if batch.configuration != nil {
                // The batcher moved on to a configuration that is not stored: back to the stored one.
                for receipt in batcher.abandon() { receipt.resume(returning: outcome) }
                batcher = BlockBatcher(settings: settings, signer: signer)
            }
        }
        for receipt in batch.receipts { receipt.resume(returning: outcome) }
        readers.advance(to: blockStore.height)
    }

    /// Block `number`; with `wait`, waits until it exists (or the task is cancelled, or the chain
    /// stops serving), otherwise nil when it does not yet exist.
    package func block(_ number: UInt64, wait: Bool) async throws -> Common_Block? {
        try await readers.block(number, wait: wait, in: blockStore)
    }

    /// Releases every reader waiting for a block; later waits fail at once. Called on shutdown so
    /// open Deliver streams end and the server can stop.
    package func stopServing() {
        readers.stop()
    }
}
