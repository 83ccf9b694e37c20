import BlockIntegrity
import Foundation
import Identity
import LedgerCore
import LedgerWire
import Logging
import Orderer
import RPCTransport
import Synchronization
import WorldState

/// The committer of one channel: pulls blocks from the ordering service (Deliver) from the
/// ledger's height, verifies each (orderer signatures against the block-validation policy, hash
/// chain, data hash), validates its transactions and commits it with their codes. When an orderer
/// fails or sends a block that does not verify, it moves to the next orderer endpoint.
///
/// Pipelining: the state-independent checks of block N+1 (signatures) run while block N commits.
package final class ChannelCommitter: Sendable {
    package let channelID: String
    private let ledger: Ledger
    private let verifier: BlockVerifier
    private let validator: BlockValidator
    private let orderers: [NodeAddress]
    private let tls: MutualTLS
    private let signer: SigningIdentity
    private let notifier: CommitNotifier
    private let signal: BlockHeightSignal
    private let metrics: PeerMetrics
    private let logger: Logger

    package init(
        channelID: String, ledger: Ledger, verifier: BlockVerifier, validator: BlockValidator, orderers: [NodeAddress], tls: MutualTLS,
        signer: SigningIdentity, notifier: CommitNotifier, signal: BlockHeightSignal, metrics: PeerMetrics, logger: Logger
    ) {
        self.signal = signal
        self.channelID = channelID
        self.ledger = ledger
        self.verifier = verifier
        self.validator = validator
        self.orderers = orderers
        self.tls = tls
        self.signer = signer
        self.notifier = notifier
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "channel"] = "\(channelID)"
        self.logger = logger
    }

    /// Follows the ordering service until the task is cancelled. Never throws: every failure is
    /// logged and the next endpoint is tried after a pause that grows to 5 s.
    package func run() async {
        guard !orderers.isEmpty else {
            logger.error("the channel configuration names no orderer endpoint; nothing to commit from")
            return
        }
        var attempt = 0
        var pause = Duration.milliseconds(100)
        while !Task.isCancelled {
            let endpoint = orderers[attempt % orderers.count]
            attempt += 1
            let heightBefore = ledger.height
            do {
                let status = try await follow(endpoint)
                logger.warning("orderer ended the block stream", metadata: ["orderer": "\(endpoint)", "status": "\(status)"])
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("block stream failed; trying the next orderer", metadata: ["orderer": "\(endpoint)", "error": "\(error)"])
            }
            if ledger.height > heightBefore { pause = .milliseconds(100) } else { pause = min(pause * 2, .seconds(5)) }
            do { try await Task.sleep(for: pause) } catch { return }
        }
    }

    /// One Deliver stream; blocks are prepared as they arrive and committed in order by one task.
    private func follow(_ endpoint: NodeAddress) async throws -> Common_Status {
        let client = OrdererClient(host: endpoint.host, port: endpoint.port, tls: tls)
        let start = ledger.height
        logger.info("pulling blocks", metadata: ["orderer": "\(endpoint)", "from": "\(start)"])
        lastVerified.withLock { $0 = nil }
        let (prepared, continuation) = AsyncThrowingStream.makeStream(of: (Common_Block, Task<[PreparedTransaction], Never>).self, bufferingPolicy: .unbounded)
        // Blocks received but not yet committed; the stream stops reading beyond this.
        let inFlight = InFlightBlocks(limit: 4)
        return try await withThrowingTaskGroup(of: Common_Status?.self) { group in
            group.addTask {
                for try await (block, preparation) in prepared {
                    try await self.commit(block, prepared: await preparation.value)
                    await inFlight.release()
                }
                return nil
            }
            group.addTask {
                defer { continuation.finish() }
                return try await client.follow(channel: self.channelID, start: start, signer: self.signer) { block in
                    try self.verify(block)
                    await inFlight.acquire()
                    let validator = self.validator
                    continuation.yield((block, Task { await validator.prepare(block) }))
                }
            }
            var status: Common_Status = .unknown
            while let result = try await group.next() {
                if let result { status = result }
            }
            return status
        }
    }

    /// The chain checks, made as the block arrives, against the block before it in the stream.
    private func verify(_ block: Common_Block) throws {
        let expected = lastVerified.withLock { $0 }
        let (number, previousHash): (UInt64, [UInt8])
        if let expected, expected.number + 1 == block.header.number {
            (number, previousHash) = (block.header.number, expected.hash)
        } else {
            let height = ledger.height
            guard height > 0, let previous = try ledger.blockStore.block(number: height - 1) else {
                throw BlockVerificationError(code: .unexpectedNumber, blockNumber: block.header.number, reason: "the ledger has no block to chain onto")
            }
            (number, previousHash) = (height, previous.header.hash)
        }
        _ = try verifier.verify(block, expectedNumber: number, previousHeaderHash: previousHash, at: Date())
        lastVerified.withLock { $0 = (block.header.number, block.header.hash) }
    }

    private let lastVerified = Mutex<(number: UInt64, hash: [UInt8])?>(nil)

    private func commit(_ block: Common_Block, prepared: [PreparedTransaction]) async throws {
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
}

/// Bounds how many delivered blocks wait for preparation, so a fast orderer cannot fill memory.
private actor InFlightBlocks {
    private let limit: Int
    private var count = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = limit }

    func acquire() async {
        if count < limit {
            count += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            count -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
