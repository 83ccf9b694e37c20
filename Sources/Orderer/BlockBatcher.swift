import Foundation
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig

/// The front half of every ordering chain, whatever its consensus: Broadcast validation, block
/// cutting by count and bytes (`BlockCutter`), the batch timer and the idle cut on the injected
/// clock, and the receipts of the broadcasters waiting for each batch. A chain owns one (per
/// leadership term for the etcd chain), schedules the timers it asks for and hands every cut
/// `Batch` to its back half, which makes the batch durable and resolves the batch's receipts.
///
/// A value type used inside the chain's actor: it has no timers of its own; `accept` and `fire`
/// say which checks to schedule, and `fire` is called when one falls due.
package struct BlockBatcher: Sendable {
    /// Envelopes cut into one block, with the receipts of their broadcasters, in order.
    package struct Batch: Sendable {
        package let envelopes: [Data]
        package let receipts: [BroadcastReceipt]
        /// For the block of a CONFIG transaction (alone in its block): the settings from that
        /// block on.
        package var configuration: ChannelOrderingSettings? = nil
    }

    /// A timer the chain schedules on its clock and reports back with `fire`.
    package struct Check: Sendable, Hashable {
        package enum Kind: Sendable, Hashable {
            /// The batch timeout of the batch started at `generation`.
            case batchTimeout(generation: Int)
            /// Whether nothing arrived for the idle timeout.
            case idle
        }

        package let kind: Kind
        package let delay: Duration
    }

    package private(set) var settings: ChannelOrderingSettings
    private var validator: BroadcastValidator
    /// Signs the CONFIG transactions made from configuration updates; nil: updates are refused.
    private let signer: SigningIdentity?
    private var cutter: BlockCutter
    /// Receipts of the envelopes in the cutter, in order.
    private var waiting: [BroadcastReceipt] = []
    /// Tells the current batch's timer from those of batches already cut.
    private var generation = 0
    private var lastArrival = Duration.zero
    private var idleCheckScheduled = false

    package init(settings: ChannelOrderingSettings, signer: SigningIdentity? = nil) {
        self.settings = settings
        self.signer = signer
        validator = BroadcastValidator(settings: settings)
        cutter = BlockCutter(limits: settings.batchLimits)
    }

    package var hasPending: Bool { cutter.hasPending }

    /// Validates `envelope` and adds it to the pending batch. Returns its receipt (resolved at
    /// once with the refusal of an envelope that may not be ordered), the batches that became
    /// complete, and the checks to schedule.
    package mutating func accept(_ envelope: Common_Envelope, clock: any LedgerClock) -> (receipt: BroadcastReceipt, batches: [Batch], checks: [Check]) {
        let bytes: Data
        do {
            bytes = try envelope.serializedData()
        } catch {
            return (BroadcastReceipt(BroadcastOutcome(status: .badRequest, info: "envelope cannot be encoded")), [], [])
        }
        if let refusal = validator.refusal(of: envelope, serializedSize: bytes.count, now: clock.now) { return (BroadcastReceipt(refusal), [], []) }
        if let transaction = try? TransactionEnvelope(envelope: envelope), transaction.headerType == .configUpdate {
            return acceptConfigUpdate(envelope, transaction, clock: clock)
        }
        let startsBatch = !cutter.hasPending
        let cut: [[Data]]
        do {
            cut = try cutter.append(bytes)
        } catch {
            return (BroadcastReceipt(BroadcastOutcome(status: .requestEntityTooLarge, info: error.reason)), [], [])
        }
        let receipt = BroadcastReceipt()
        waiting.append(receipt)
        var batches: [Batch] = []
        for envelopes in cut {
            batches.append(Batch(envelopes: envelopes, receipts: Array(waiting.prefix(envelopes.count))))
            waiting.removeFirst(envelopes.count)
        }
        if !batches.isEmpty { generation += 1 }
        var checks: [Check] = []
        if cutter.hasPending, startsBatch || !batches.isEmpty {
            generation += 1
            checks.append(Check(kind: .batchTimeout(generation: generation), delay: settings.batchTimeout))
        }
        if let idle = settings.batchIdleTimeout, cutter.hasPending {
            lastArrival = clock.elapsed
            if !idleCheckScheduled {
                idleCheckScheduled = true
                checks.append(Check(kind: .idle, delay: idle))
            }
        }
        return (receipt, batches, checks)
    }

    /// A configuration update: the configuration it produces from the current one, as a CONFIG
    /// transaction signed by this orderer in a block of its own (the pending envelopes are cut
    /// first). Envelopes accepted after it are checked against the new configuration.
    private mutating func acceptConfigUpdate(_ envelope: Common_Envelope, _ transaction: TransactionEnvelope, clock: any LedgerClock) -> (receipt: BroadcastReceipt, batches: [Batch], checks: [Check]) {
        guard let current = settings.config, let signer else {
            return (BroadcastReceipt(BroadcastOutcome(status: .badRequest, info: "this channel takes no configuration updates")), [], [])
        }
        let now = clock.now
        let configTransaction: Data
        let next: ChannelOrderingSettings
        do {
            let processor = try ConfigUpdateProcessor(current: current)
            let config = try processor.apply(try ConfigUpdateProcessor.updateEnvelope(of: transaction), at: now)
            next = try settings.successor(config)
            configTransaction = try ConfigUpdateProcessor.configTransaction(
                config, lastUpdate: envelope, signer: signer, time: now, nonce: (0..<24).map { _ in UInt8.random(in: 0...255) }
            ).serializedData()
        } catch let error as ConfigUpdateError {
            return (BroadcastReceipt(BroadcastOutcome(status: .badRequest, info: "configuration update refused: \(error.reason)")), [], [])
        } catch {
            return (BroadcastReceipt(BroadcastOutcome(status: .badRequest, info: "configuration update refused: \(error)")), [], [])
        }
        var batches: [Batch] = []
        if cutter.hasPending { batches.append(cut()) }
        let receipt = BroadcastReceipt()
        batches.append(Batch(envelopes: [configTransaction], receipts: [receipt], configuration: next))
        generation += 1
        settings = next
        validator = BroadcastValidator(settings: next)
        cutter = BlockCutter(limits: next.batchLimits)
        return (receipt, batches, [])
    }

    /// A scheduled check fell due: the pending batch when it is to be cut now, and the checks to
    /// schedule (an idle check moves when envelopes arrived meanwhile).
    package mutating func fire(_ check: Check, clock: any LedgerClock) -> (batch: Batch?, checks: [Check]) {
        switch check.kind {
        case .batchTimeout(let fired):
            guard fired == generation, cutter.hasPending else { return (nil, []) }
            return (cut(), [])
        case .idle:
            idleCheckScheduled = false
            guard let idle = settings.batchIdleTimeout, cutter.hasPending else { return (nil, []) }
            let quiet = clock.elapsed - lastArrival
            guard quiet >= idle else {
                idleCheckScheduled = true
                return (nil, [Check(kind: .idle, delay: idle - quiet)])
            }
            return (cut(), [])
        }
    }

    /// The pending envelopes as a batch (empty when none); their timer no longer counts.
    package mutating func cut() -> Batch {
        generation += 1
        let envelopes = cutter.cut()
        defer { waiting.removeAll() }
        return Batch(envelopes: envelopes, receipts: waiting)
    }

    /// Gives up the pending envelopes (the chain stops ordering): their receipts, to be answered.
    package mutating func abandon() -> [BroadcastReceipt] {
        _ = cutter.cut()
        generation += 1
        defer { waiting.removeAll() }
        return waiting
    }
}
