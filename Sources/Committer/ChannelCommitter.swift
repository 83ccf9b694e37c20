import BlockIntegrity
import Foundation
import Identity
import LedgerCore
import LedgerWire
import Logging
import RPCTransport
import Synchronization
import WorldState
import NodeClients

/// The committer of one channel: pulls blocks from the ordering service (Deliver, through its
/// block sources) from the ledger's height and hands them to the `BlockCommitter`. When a source
/// fails or sends a block that does not verify, it moves to the next one.
///
/// Pipelining: the state-independent checks of block N+1 (signatures) run while block N commits.
package final class ChannelCommitter: Sendable {
    package var channelID: String { committer.channelID }
    private let committer: BlockCommitter
    /// Where blocks come from: a channel's configuration can change its orderers.
    private let sources: Mutex<[any BlockSource]>
    /// Times the pauses between attempts.
    private let clock: any LedgerClock
    private let logger: Logger

    package init(committer: BlockCommitter, sources: [any BlockSource], clock: any LedgerClock = SystemClock(), logger: Logger) {
        self.committer = committer
        self.sources = Mutex(sources)
        self.clock = clock
        var logger = logger
        logger[metadataKey: "channel"] = "\(committer.channelID)"
        self.logger = logger
    }

    private var ledger: Ledger { committer.ledger }

    /// The block sources to use from the next stream on (a config block changed the channel's
    /// orderers); an open stream goes on until it ends.
    package func use(sources: [any BlockSource]) {
        self.sources.withLock { $0 = sources }
    }

    /// Follows the ordering service until the task is cancelled. Never throws: every failure is
    /// logged and the next source is tried after a pause that grows to 5 s.
    package func run() async {
        var attempt = 0
        var pause = Duration.milliseconds(100)
        var warned = false
        while !Task.isCancelled {
            let sources = self.sources.withLock { $0 }
            guard !sources.isEmpty else {
                if !warned { logger.error("the channel configuration names no orderer endpoint; nothing to commit from until one does") }
                warned = true
                do { try await clock.sleep(for: .seconds(1)) } catch { return }
                continue
            }
            let source = sources[attempt % sources.count]
            attempt += 1
            let heightBefore = ledger.height
            do {
                let status = try await follow(source)
                logger.warning("the block source ended the block stream", metadata: ["source": "\(source)", "status": "\(status)"])
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("block stream failed; trying the next source", metadata: ["source": "\(source)", "error": "\(error)"])
            }
            if ledger.height > heightBefore { pause = .milliseconds(100) } else { pause = min(pause * 2, .seconds(5)) }
            do { try await clock.sleep(for: pause) } catch { return }
        }
    }

    /// One block stream; blocks are prepared as they arrive and committed in order by one task.
    private func follow(_ source: any BlockSource) async throws -> Common_Status {
        let start = ledger.height
        logger.info("pulling blocks", metadata: ["source": "\(source)", "from": "\(start)"])
        committer.restartChain()
        let committer = self.committer
        let channelID = self.channelID
        let (prepared, continuation) = AsyncThrowingStream.makeStream(of: (Common_Block, Task<[PreparedTransaction], Never>).self, bufferingPolicy: .unbounded)
        // Blocks received but not yet committed; the stream stops reading beyond this.
        let inFlight = InFlightBlocks(limit: 4)
        return try await withThrowingTaskGroup(of: Common_Status?.self) { group in
            group.addTask {
                for try await (block, preparation) in prepared {
                    try await committer.commit(block, prepared: await preparation.value)
                    await inFlight.release()
                }
                return nil
            }
            group.addTask {
                defer { continuation.finish() }
                return try await source.follow(channel: channelID, start: start) { block in
                    try committer.verify(block)
                    await inFlight.acquire()
                    continuation.yield((block, Task { await committer.prepare(block) }))
                    // The blocks after a config block are verified and validated under its configuration.
                    if block.holdsConfigTransaction {
                        guard await committer.waitUntilCommitted(block.header.number) else { throw CancellationError() }
                    }
                }
            }
            var status: Common_Status = .unknown
            while let result = try await group.next() {
                if let result { status = result }
            }
            return status
        }
    }
}
/// Bounds how many delivered blocks wait for preparation, so a fast orderer cannot fill memory.
private actor InFlightBlocks {
    private let limit: Int
    private var count = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    package init(limit: Int) { self.limit = limit }

    package func acquire() async {
        if count < limit {
            count += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    package func release() {
        if waiters.isEmpty {
            count -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
