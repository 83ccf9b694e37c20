import BlockIntegrity
import Foundation
import LedgerCore
import LedgerWire
import Logging
import Synchronization
import WorldState
import NodeClients

/// Verifies, validates and commits the blocks of one channel, one after another, whatever they
/// come from (`ChannelCommitter` feeds it from the ordering service; the simulation steps it).
///
/// A block is verified against the block before it (orderer signatures against the
/// block-validation policy, hash chain, data hash), its transactions are validated against the
/// state as of the previous block, and it is committed with their codes.
package final class BlockCommitter: Sendable {
    package let channelID: String
    package let ledger: Ledger
    /// The verifier and validator of the channel's current configuration; replaced at each
    /// config block.
    private let checks: Mutex<ConfiguredChecks>
    /// The checks of the configuration a valid config block sets (nil: config blocks change nothing).
    private let reconfigure: (@Sendable (Common_Block) throws -> ConfiguredChecks)?
    private let notifier: CommitNotifier
    private let signal: BlockHeightSignal
    private let metrics: PeerMetrics
    /// The time certificates are checked at.
    private let clock: any LedgerClock
    private let logger: Logger
    /// The last block verified ahead of its commit, so that the next one chains onto it.
    private let lastVerified = Mutex<(number: UInt64, hash: [UInt8])?>(nil)

    /// What blocks are checked with under one channel configuration.
    package struct ConfiguredChecks: Sendable {
        package let verifier: BlockVerifier
        package let validator: BlockValidator

        package init(verifier: BlockVerifier, validator: BlockValidator) {
            self.verifier = verifier
            self.validator = validator
        }
    }

    /// - Parameter reconfigure: Given a config block that validated, the checks of the
    ///   configuration it sets, used from the next block on.
    package init(
        channelID: String, ledger: Ledger, verifier: BlockVerifier, validator: BlockValidator, notifier: CommitNotifier, signal: BlockHeightSignal,
        metrics: PeerMetrics, clock: any LedgerClock = SystemClock(), logger: Logger,
        reconfigure: (@Sendable (Common_Block) throws -> ConfiguredChecks)? = nil
    ) {
        self.channelID = channelID
        self.ledger = ledger
        checks = Mutex(ConfiguredChecks(verifier: verifier, validator: validator))
        self.reconfigure = reconfigure
        self.notifier = notifier
        self.signal = signal
        self.metrics = metrics
        self.clock = clock
        self.logger = logger
    }

    /// Forgets the last verified block: the next block verified must follow the ledger's tip.
    /// Called when a new block stream starts.
    package func restartChain() {
        lastVerified.withLock { $0 = nil }
    }

    /// The chain checks, made as the block arrives, against the block verified before it (or the
    /// ledger's last block).
    package func verify(_ block: Common_Block) throws {
        let expected = lastVerified.withLock { $0 }
        let (number, previousHash): (UInt64, [UInt8])
        if let expected, expected.number &+ 1 == block.header.number {
            (number, previousHash) = (block.header.number, expected.hash)
        } else {
            let height = ledger.height
            guard height > 0, let previous = try ledger.blockStore.block(number: height - 1) else {
                throw BlockVerificationError(code: .unexpectedNumber, blockNumber: block.header.number, reason: "the ledger has no block to chain onto")
            }
            (number, previousHash) = (height, previous.header.hash)
        }
        _ = try checks.withLock { $0.verifier }.verify(block, expectedNumber: number, previousHeaderHash: previousHash, at: clock.now)
        lastVerified.withLock { $0 = (block.header.number, block.header.hash) }
    }

    /// The state-independent checks of a verified block's transactions (signatures), which may
    /// run while earlier blocks commit.
    package func prepare(_ block: Common_Block) async -> [PreparedTransaction] {
        await checks.withLock { $0.validator }.prepare(block)
    }

    /// Waits until block `number` is committed (false when the peer stops first). A config block
    /// must be committed before the next block is verified and prepared under its configuration.
    package func waitUntilCommitted(_ number: UInt64) async -> Bool {
        let (height, overflow) = number.addingReportingOverflow(1)
        return overflow ? false : await signal.wait(forHeight: height)
    }

    /// Validates a verified, prepared block against the state and commits it with its codes; then
    /// wakes those waiting for the height and reports the transactions' outcomes.
    package func commit(_ block: Common_Block, prepared: [PreparedTransaction]) async throws {
        let validationStart = ContinuousClock.now
        let blockStore = ledger.blockStore
        let outcomes = try checks.withLock { $0.validator }.resolve(prepared, blockNumber: block.header.number, reader: try ledger.state.makeReader()) { txID in
            try blockStore.transactionLocation(txID) != nil
        }
        var committed = block
        committed.setValidationCodes(outcomes.map(\.code))
        // A valid config block: the checks of its configuration, made before the block commits so
        // that a failure here leaves the ledger as it was.
        var next: ConfiguredChecks?
        if let reconfigure, outcomes.count == 1, outcomes[0].code == .valid, block.holdsConfigTransaction {
            do {
                next = try reconfigure(committed)
            } catch {
                logger.critical("the configuration of a valid config block cannot be put to use; the channel stops here", metadata: [
                    "block": "\(block.header.number)", "error": "\(error)",
                ])
                throw error
            }
        }
        let commitStart = ContinuousClock.now
        try ledger.commit(committed)
        if let next {
            checks.withLock { $0 = next }
            logger.notice("channel configuration updated", metadata: ["channel": "\(channelID)", "block": "\(block.header.number)"])
        }
        let commitEnd = ContinuousClock.now
        metrics.recordCommit(
            channel: channelID, codes: outcomes.map(\.code), height: ledger.height,
            validation: commitStart - validationStart, commit: commitEnd - commitStart)
        signal.advance(to: ledger.height)
        notifier.committed(
            blockNumber: block.header.number,
            transactions: outcomes.compactMap { outcome in outcome.transactionID.map { ($0, outcome.code) } })
        let valid = outcomes.count { $0.code == .valid }
        logger.debug("committed block", metadata: ["block": "\(block.header.number)", "transactions": "\(outcomes.count)", "valid": "\(valid)"])
    }

    /// Verifies, validates and commits the next block in one step. A block the ledger already
    /// holds (a repeat from the source) is skipped; a block that does not verify is refused.
    /// Returns whether the block was committed.
    @discardableResult
    package func commitNext(_ block: Common_Block) async throws -> Bool {
        guard block.header.number >= ledger.height else { return false }
        restartChain()
        try verify(block)
        try await commit(block, prepared: await prepare(block))
        return true
    }
}
