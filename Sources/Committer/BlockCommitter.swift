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
    private let verifier: BlockVerifier
    private let validator: BlockValidator
    private let notifier: CommitNotifier
    private let signal: BlockHeightSignal
    private let metrics: PeerMetrics
    /// The time certificates are checked at.
    private let clock: any LedgerClock
    private let logger: Logger
    /// The last block verified ahead of its commit, so that the next one chains onto it.
    private let lastVerified = Mutex<(number: UInt64, hash: [UInt8])?>(nil)

    package init(
        channelID: String, ledger: Ledger, verifier: BlockVerifier, validator: BlockValidator, notifier: CommitNotifier, signal: BlockHeightSignal,
        metrics: PeerMetrics, clock: any LedgerClock = SystemClock(), logger: Logger
    ) {
        self.channelID = channelID
        self.ledger = ledger
        self.verifier = verifier
        self.validator = validator
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
        _ = try verifier.verify(block, expectedNumber: number, previousHeaderHash: previousHash, at: clock.now)
        lastVerified.withLock { $0 = (block.header.number, block.header.hash) }
    }

    /// The state-independent checks of a verified block's transactions (signatures), which may
    /// run while earlier blocks commit.
    package func prepare(_ block: Common_Block) async -> [PreparedTransaction] {
        await validator.prepare(block)
    }

    /// Validates a verified, prepared block against the state and commits it with its codes; then
    /// wakes those waiting for the height and reports the transactions' outcomes.
    package func commit(_ block: Common_Block, prepared: [PreparedTransaction]) async throws {
        let validationStart = ContinuousClock.now
        let blockStore = ledger.blockStore
        let outcomes = try validator.resolve(prepared, blockNumber: block.header.number, reader: try ledger.state.makeReader()) { txID in
            try blockStore.transactionLocation(txID) != nil
        }
        var committed = block
        committed.setValidationCodes(outcomes.map(\.code))
        let commitStart = ContinuousClock.now
        try ledger.commit(committed)
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
