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
    package nonisolated let settings: ChannelOrderingSettings
    private let validator: BroadcastValidator
    private let blockStore: any BlockStorage
    private let signer: SigningIdentity
    private let clock: any LedgerClock
    private let logger: Logger
    private var cutter: BlockCutter
    /// Waiting broadcasters, in the order of their envelopes in the cutter.
    private var acknowledgements: [BroadcastReceipt] = []
    private var timerGeneration = 0
    /// Idle cutting (`settings.batchIdleTimeout`): when the last envelope arrived, and whether an
    /// idle check is scheduled (at most one at a time).
    private var lastArrival = Duration.zero
    private var idleCheckScheduled = false
    private let readers: ChainHeightWaiters
    private let onBlockStored: @Sendable (Common_Block) -> Void

    package init(
        settings: ChannelOrderingSettings, blockStore: any BlockStorage, signer: SigningIdentity,
        clock: any LedgerClock = SystemClock(), logger: Logger = Logger(label: "medrex.orderer"),
        onBlockStored: @escaping @Sendable (Common_Block) -> Void = { _ in }
    ) {
        self.onBlockStored = onBlockStored
        self.settings = settings
        validator = BroadcastValidator(settings: settings)
        self.blockStore = blockStore
        self.signer = signer
        self.clock = clock
        self.logger = logger
        cutter = BlockCutter(limits: settings.batchLimits)
        readers = ChainHeightWaiters(height: blockStore.height)
    }

    package var height: UInt64 { blockStore.height }

    /// Validates one envelope and queues it for the next block; the receipt resolves when its
    /// block is stored, or at once with the refusal.
    package func submit(_ envelope: Common_Envelope) -> BroadcastReceipt {
        let bytes: Data
        do {
            bytes = try envelope.serializedData()
        } catch {
            return BroadcastReceipt(BroadcastOutcome(status: .badRequest, info: "envelope cannot be encoded"))
        }
        if let refusal = validator.refusal(of: envelope, serializedSize: bytes.count, now: clock.now) { return BroadcastReceipt(refusal) }
        let receipt = BroadcastReceipt()
        enqueue(bytes, receipt)
        return receipt
    }

    private func enqueue(_ bytes: Data, _ continuation: BroadcastReceipt) {
        let startsBatch = !cutter.hasPending
        let batches: [[Data]]
        do {
            batches = try cutter.append(bytes)
        } catch {
            continuation.resume(returning: BroadcastOutcome(status: .requestEntityTooLarge, info: error.reason))
            return
        }
        acknowledgements.append(continuation)
        for batch in batches { writeBlock(batch) }
        if cutter.hasPending, startsBatch || !batches.isEmpty { armTimer() }
        if let idle = settings.batchIdleTimeout, cutter.hasPending {
            lastArrival = clock.elapsed
            if !idleCheckScheduled { scheduleIdleCheck(after: idle) }
        }
    }

    private func scheduleIdleCheck(after delay: Duration) {
        idleCheckScheduled = true
        clock.schedule(after: delay) { [weak self] in
            await self?.idleCheck()
        }
    }

    /// Cuts the pending batch when nothing arrived for the idle timeout; otherwise checks again
    /// when it would have passed.
    private func idleCheck() {
        idleCheckScheduled = false
        guard let idle = settings.batchIdleTimeout, cutter.hasPending else { return }
        let quiet = clock.elapsed - lastArrival
        if quiet >= idle {
            writeBlock(cutter.cut())
        } else {
            scheduleIdleCheck(after: idle - quiet)
        }
    }

    private func armTimer() {
        timerGeneration += 1
        let generation = timerGeneration
        let timeout = settings.batchTimeout
        clock.schedule(after: timeout) { [weak self] in
            await self?.timerFired(generation)
        }
    }

    private func timerFired(_ generation: Int) {
        guard generation == timerGeneration, cutter.hasPending else { return }
        writeBlock(cutter.cut())
    }

    /// Builds, signs and stores the next block; acknowledges its envelopes' broadcasters.
    private func writeBlock(_ envelopes: [Data]) {
        timerGeneration += 1
        let waiting = Array(acknowledgements.prefix(envelopes.count))
        acknowledgements.removeFirst(envelopes.count)
        // Every envelope of the batch gets the same outcome, so reordering leaves the waiting list as is.
        let ordered = settings.reordersByDependencies ? DependencyReordering.reorder(envelopes).envelopes : envelopes
        var block = Common_Block(number: blockStore.height, previousHash: blockStore.lastHeaderHash, envelopes: ordered)
        let outcome: BroadcastOutcome
        do {
            try block.signAsOrderer(signer, lastConfigIndex: 0, time: clock.now, nonce: (0..<24).map { _ in UInt8.random(in: 0...255) })
            try blockStore.append(block)
            onBlockStored(block)
            outcome = .success
        } catch {
            logger.error("block could not be stored", metadata: ["block": "\(block.header.number)", "error": "\(error)"])
            outcome = BroadcastOutcome(status: .serviceUnavailable, info: "the orderer could not store the block")
        }
        for continuation in waiting { continuation.resume(returning: outcome) }
        readers.advance(to: blockStore.height)
    }

    /// Block `number`; with `wait`, waits until it exists (or the task is cancelled, or the chain
    /// stops serving), otherwise nil when it does not yet exist.
    package func block(_ number: UInt64, wait: Bool) async throws -> Common_Block? {
        if number >= blockStore.height {
            // Block 2^64-1 would need a height past UInt64.max: it can never be cut.
            let (height, overflow) = number.addingReportingOverflow(1)
            guard wait, !overflow else { return nil }
            try await readers.wait(forHeight: height)
        }
        return try blockStore.block(number: number)
    }

    /// Releases every reader waiting for a block; later waits fail at once. Called on shutdown so
    /// open Deliver streams end and the server can stop.
    package func stopServing() {
        readers.stop()
    }
}
