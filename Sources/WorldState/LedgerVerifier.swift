import Foundation
import Logging

/// `medrex ledger verify`: re-reads every block (checksums, data hashes, the hash chain),
/// replays the valid writes of every block into a fresh in-memory state, and compares that
/// state's digest with the state database's.
package enum LedgerVerifier {
    package enum Kind: String, Sendable { case peer, orderer }

    package struct Report: Sendable {
        package var blocks: UInt64 = 0
        package var transactions = 0
        package var stateEntries = 0
        package var stateDigest = ""
        package var savepoint: UInt64?
        /// A peer's ledger (blocks and world state) or an orderer's (blocks only).
        package var kind: Kind = .peer
        /// The first block that failed a check, if one did.
        package var firstBadBlock: UInt64?
        /// What is wrong; nil when the ledger verified.
        package var problem: String?

        package var isSound: Bool { problem == nil }
    }

    /// Verifies the ledger in `directory` without changing anything on disk (RocksDB opened
    /// read-only, no block file repaired, no block replayed into the state). A peer ledger (block
    /// store and world state) gets every check; an orderer ledger (blocks only, no
    /// TRANSACTIONS_FILTER) gets the block checks.
    package static func verify(directory: URL, logger: Logger = Logger(label: "medrex.ledger.verify")) -> Report {
        var report = Report()
        let indexPath = directory.appendingPathComponent("index").path
        guard FileManager.default.fileExists(atPath: indexPath) else {
            report.problem = "no ledger at \(directory.path)"
            return report
        }
        let database: RocksDatabase
        let blockStore: BlockStore
        let state: RocksStateDatabase?
        do {
            let families = Set(try RocksDatabase.columnFamilies(at: indexPath))
            let isPeerLedger = families.isSuperset(of: RocksStateDatabase.columnFamilies)
            report.kind = isPeerLedger ? .peer : .orderer
            database = try RocksDatabase(
                path: indexPath, columnFamilies: BlockStore.columnFamilies + (isPeerLedger ? RocksStateDatabase.columnFamilies : []), readOnly: true)
            blockStore = try BlockStore(directory: directory.appendingPathComponent("blocks"), database: database, logger: logger)
            state = isPeerLedger ? RocksStateDatabase(database: database) : nil
        } catch {
            report.problem = "cannot open the ledger: \(error)"
            return report
        }
        defer { try? database.close() }
        do {
            report.savepoint = try state?.savepoint()
        } catch {
            report.problem = "state cannot be read: \(error)"
            return report
        }
        // The replay stops at the state's savepoint: blocks past it (a crash between a block's
        // append and its state batch) are replayed by the peer when it opens the ledger.
        let replay = InMemoryStateDatabase()
        var namespaces: Set<String> = []
        var previousHeaderHash: [UInt8]?
        let height = blockStore.height
        for number in 0..<height {
            do {
                guard let block = try blockStore.block(number: number) else {
                    throw StorageError(.corruption, "block is missing")
                }
                if let previousHeaderHash, !block.header.previousHash.elementsEqual(previousHeaderHash) {
                    throw StorageError(.corruption, "previous hash does not match the header hash of block \(number &- 1)")
                }
                guard block.hasConsistentDataHash else { throw StorageError(.corruption, "data hash does not match the block's transactions") }
                previousHeaderHash = block.header.hash
                if state != nil, let savepoint = report.savepoint, number <= savepoint {
                    let updates = try BlockStateUpdates.derive(from: block)
                    namespaces.formUnion(updates.changes.keys.map(\.namespace))
                    try replay.apply(updates, blockNumber: number)
                }
                report.blocks += 1
                report.transactions += block.data.data.count
            } catch {
                report.firstBadBlock = number
                report.problem = "block \(number): \(error)"
                return report
            }
        }
        guard let state else { return report }
        do {
            let expected = try StateDigest.compute(replay.makeReader(), namespaces: Array(namespaces))
            let actual = try StateDigest.compute(state.makeReader(), namespaces: Array(namespaces))
            report.stateEntries = actual.entries
            report.stateDigest = actual.digest
            if let savepoint = report.savepoint, savepoint >= height {
                report.problem = "state savepoint \(savepoint) is ahead of the last block \(height &- 1)"
            } else if report.savepoint == nil, height > 0, actual.entries > 0 {
                report.problem = "the state has entries but no savepoint"
            } else if expected.digest != actual.digest {
                report.problem = "state database (\(actual.entries) entries) differs from a replay of the blocks (\(expected.entries) entries)"
            }
        } catch {
            report.problem = "state cannot be read: \(error)"
        }
        return report
    }
}
