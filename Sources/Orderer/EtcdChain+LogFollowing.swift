import BlockIntegrity
import EtcdClient
import Foundation
import LedgerCore
import LedgerWire
import NetworkConfig
import RPCTransport
import SwiftProtobuf
import NodeClients

extension EtcdChain {
    /// Follows the log from this orderer's height until cancelled: reads what it lacks with range
    /// requests, then watches for new blocks; starts over after any failure (a watch whose revision
    /// was compacted, a gap, etcd unreachable).
    nonisolated func followLog() async {
        while !Task.isCancelled {
            do {
                let revision = try await catchUp()
                await setCannotCatchUp(false)
                for try await events in etcd.watch(.interval(from: keys.block(0), to: keys.blocksEnd), fromRevision: min(revision, Int64.max - 1) + 1) {
                    for event in events where event.kind == .put {
                        guard let number = keys.blockNumber(of: event.key) else { continue }
                        try await apply(event.value, number: number)
                    }
                }
            } catch let error as EtcdError where error.code == .compacted {
                logger.info("the log watch fell behind compaction; catching up with range reads", metadata: ["channel": "\(keys.channel)"])
            } catch {
                if Task.isCancelled { return }
                if let error = error as? OrdererError, [.logInconsistent, .compactedAway].contains(error.code) {
                    await setCannotCatchUp(true)
                }
                logger.warning("following the etcd log failed; starting over", metadata: ["channel": "\(keys.channel)", "error": "\(error)"])
                try? await clock.sleep(for: .milliseconds(500))
            }
        }
    }

    func setCannotCatchUp(_ value: Bool) {
        if value, !cannotCatchUp { logger.error("this orderer cannot catch up with the etcd log; it will not contend for leadership until it can", metadata: ["channel": "\(keys.channel)"]) }
        cannotCatchUp = value
    }

    /// Applies every block the log holds from this orderer's height on; returns the etcd revision
    /// of the last read, after which a watch continues.
    @discardableResult
    package nonisolated func catchUp() async throws -> Int64 {
        while true {
            let height = await self.height
            let page = try await etcd.range(.interval(from: keys.block(height), to: keys.blocksEnd), limit: timing.catchUpPageBlocks)
            if let first = page.keyValues.first, let number = keys.blockNumber(of: first.key), number > height {
                try await fetchFromLeader(from: height, below: number)
                continue
            }
            for keyValue in page.keyValues {
                guard let number = keys.blockNumber(of: keyValue.key) else { continue }
                try await apply(keyValue.value, number: number)
            }
            if !page.more { return page.revision }
        }
    }

    /// Blocks `height..<number` were compacted out of the log: fetches them from the leader's
    /// Deliver, which still holds them (every orderer that reported its height had persisted them).
    private nonisolated func fetchFromLeader(from height: UInt64, below number: UInt64) async throws {
        // Right after start the election loop may not have looked at the leader key yet.
        var leader = await leaderEndpoint
        if leader == nil { leader = try await etcd.get(keys.leader).map { String(decoding: $0.value, as: UTF8.self) } }
        guard let leader, leader != member, let address = NodeAddress(leader) else {
            let error = OrdererError(
                .compactedAway,
                "blocks \(height)..<\(number) of channel \(keys.channel) were compacted out of etcd and no other orderer is known to fetch them from; wait for a leader, or copy the ledger from another orderer")
            logger.error("cannot catch up", metadata: ["channel": "\(keys.channel)", "error": "\(error)"])
            throw error
        }
        logger.warning("blocks were compacted out of etcd; fetching them from the leader", metadata: [
            "channel": "\(keys.channel)", "from": "\(height)", "below": "\(number)", "leader": "\(leader)",
        ])
        let stop = min(number - 1, height + UInt64(timing.catchUpPageBlocks) - 1)
        let (blocks, status) = try await leaders.blocks(of: keys.channel, from: address, start: height, stop: stop, signer: signer)
        for block in blocks { try await appendFetched(block) }
        guard status == .success, blocks.count == Int(stop - height + 1) else {
            throw OrdererError(.compactedAway, "the leader \(leader) answered blocks \(height)...\(stop) of channel \(keys.channel) with \(blocks.count) blocks and status \(status)")
        }
    }

    /// Checks block `number` from the log and stores it, when it is this orderer's next block.
    /// Blocks it already holds are skipped; a later one means a gap (throws, to read the log again).
    func apply(_ value: [UInt8], number: UInt64) throws {
        guard number >= blockStore.height else { return }
        guard number == blockStore.height else {
            throw OrdererError(.logInconsistent, "block \(number) of channel \(keys.channel) arrived while block \(blockStore.height) was expected")
        }
        let block: Common_Block
        do {
            block = try Common_Block(serializedBytes: value)
        } catch {
            throw logInconsistency("block \(number) in the etcd log is not a decodable block")
        }
        guard block.header.number == number else { throw logInconsistency("the etcd log's key for block \(number) holds block \(block.header.number)") }
        try store(block)
    }

    private func appendFetched(_ block: Common_Block) throws {
        guard block.header.number >= blockStore.height else { return }
        try store(block)
    }

    /// Stores a block from the log or from the leader's Deliver after the checks a peer makes:
    /// it chains onto this orderer's last block, its data hash matches, and its orderer
    /// signatures verify and satisfy the channel's BlockValidation policy (whoever can write to
    /// etcd cannot make the orderers store a block no orderer signed).
    private func store(_ block: Common_Block) throws {
        do {
            _ = try blockVerifier.verify(block, expectedNumber: blockStore.height, previousHeaderHash: blockStore.lastHeaderHash, at: clock.now)
        } catch {
            throw logInconsistency("\(error)")
        }
        // A config block's configuration must be the one its update produces from the current one.
        let next = block.holdsConfigTransaction ? try followingSettings(of: block) : nil
        try blockStore.append(block)
        onBlockStored(block)
        if let next {
            settings = next
            lastConfigNumber = block.header.number
            blockVerifier = BlockVerifier(membership: next.membership, blockValidationPolicy: next.blockValidation)
            logger.notice("channel configuration updated", metadata: [
                "channel": "\(keys.channel)", "block": "\(block.header.number)", "sequence": "\(next.config?.config.sequence ?? 0)",
            ])
        }
        readers.advance(to: blockStore.height)
    }

    /// The settings a config block sets, after the checks a peer makes of it.
    private func followingSettings(of block: Common_Block) throws -> ChannelOrderingSettings {
        guard let current = settings.config else { throw logInconsistency("block \(block.header.number) holds a configuration update, which this channel does not take") }
        do {
            guard block.data.data.count == 1 else { throw ConfigUpdateError(.malformed, "a config block must hold its CONFIG transaction alone") }
            let transaction = try TransactionEnvelope(serialized: block.data.data[0])
            let config = try ConfigUpdateProcessor(current: current).verify(
                try ConfigUpdateProcessor.configEnvelope(of: transaction), at: transaction.channelHeader.timestamp.instant)
            return try settings.successor(config)
        } catch {
            throw logInconsistency("config block \(block.header.number) does not verify: \(error)")
        }
    }

    private func logInconsistency(_ reason: String) -> OrdererError {
        let error = OrdererError(.logInconsistent, "channel \(keys.channel): \(reason)")
        logger.error("refusing a block from the etcd log", metadata: ["error": "\(error)"])
        return error
    }

    /// Records this orderer's height in etcd whenever it changed, so that the leader knows which
    /// blocks every orderer has persisted.
    nonisolated func reportPersistedHeight() async {
        var reported: UInt64?
        while !Task.isCancelled {
            do {
                reported = try await reportPersistedHeight(unless: reported)
            } catch {
                if Task.isCancelled { return }
                logger.warning("could not record the persisted height in etcd", metadata: ["channel": "\(keys.channel)", "error": "\(error)"])
            }
            do { try await clock.sleep(for: timing.persistedHeightInterval) } catch { return }
        }
    }

    /// Records this orderer's height in etcd unless it is `reported` already; returns the height recorded.
    @discardableResult
    package nonisolated func reportPersistedHeight(unless reported: UInt64?) async throws -> UInt64 {
        let height = await self.height
        if height != reported { try await etcd.put(keys.persisted(by: member), Array(String(height).utf8)) }
        return height
    }
}
