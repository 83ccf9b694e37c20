import Foundation
import LedgerCore
import LedgerWire
import Logging

/// One channel's ledger: on disk, the block store and the world state in one RocksDB database
/// (column families for the block index, state, history and savepoint) plus the block files; or
/// any block storage and state database (in memory for tests and the simulation).
///
/// Commit order: the block is appended and fsynced, then its state changes and the new savepoint
/// are written in one batch. Opening replays every stored block past the savepoint, so a crash
/// between the two loses nothing. A state write that fails after its block was appended stops
/// the process: the ledger would otherwise run ahead of its state.
package final class Ledger: Sendable {
    package let blockStore: any BlockStorage
    package let state: any StateDatabase
    private let database: RocksDatabase?
    private let logger: Logger

    /// Opens (or creates) the ledger in `directory`, repairing a torn block file and replaying
    /// blocks the state has not seen.
    package convenience init(directory: URL, blockFileBytesMax: Int = 64 * 1024 * 1024, logger: Logger = Logger(label: "medrex.ledger")) throws(StorageError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StorageError(.io, "cannot create ledger directory \(directory.path): \(error.localizedDescription)")
        }
        let database = try RocksDatabase(
            path: directory.appendingPathComponent("index").path,
            columnFamilies: BlockStore.columnFamilies + RocksStateDatabase.columnFamilies)
        do throws(StorageError) {
            let blockStore = try BlockStore(
                directory: directory.appendingPathComponent("blocks"), database: database, fileBytesMax: blockFileBytesMax, logger: logger)
            try self.init(
                blockStore: blockStore, state: RocksStateDatabase(database: database), database: database, location: directory.path, logger: logger)
        } catch {
            try? database.close()
            throw error
        }
    }

    /// A ledger over the given storage (in memory for tests and the simulation), checked and
    /// replayed as on opening from disk.
    package convenience init(blockStore: any BlockStorage, state: any StateDatabase, logger: Logger = Logger(label: "medrex.ledger")) throws(StorageError) {
        try self.init(blockStore: blockStore, state: state, database: nil, location: "memory", logger: logger)
    }

    private init(blockStore: any BlockStorage, state: any StateDatabase, database: RocksDatabase?, location: String, logger: Logger) throws(StorageError) {
        self.blockStore = blockStore
        self.state = state
        self.database = database
        self.logger = logger
        // Blocks are stored before their state changes, so the state can never be ahead of the
        // blocks unless files were lost or mixed up: refuse to serve such a ledger (as Fabric does).
        if let savepoint = try state.savepoint(), savepoint >= blockStore.height {
            throw StorageError(
                .corruption,
                "the state of the ledger in \(location) is at block \(savepoint) but its block store holds only \(blockStore.height) blocks: "
                    + "the state is ahead of the blocks; restore the ledger directory from a backup or from another peer")
        }
        try replayMissingBlocks()
    }

    /// Number of blocks in the ledger.
    package var height: UInt64 { blockStore.height }

    /// Appends a validated block (with its TRANSACTIONS_FILTER) and applies its state changes.
    package func commit(_ block: Common_Block) throws(StorageError) {
        let updates = try BlockStateUpdates.derive(from: block)
        try blockStore.append(block)
        do {
            try state.apply(updates, blockNumber: block.header.number)
        } catch {
            preconditionFailure("state write of block \(block.header.number) failed after the block was stored: \(error)")
        }
    }

    /// Where a transaction is, once its block's state changes are applied too. `commit` writes the
    /// block store first and the state right after, so a transaction found in the block store
    /// alone may not be readable yet: whoever is told that it committed (CommitStatus, the PHI
    /// service) must see its writes in the state.
    package func committedTransaction(_ txID: String) throws(StorageError) -> TransactionLocation? {
        guard let location = try blockStore.transactionLocation(txID) else { return nil }
        guard let savepoint = try state.savepoint(), savepoint >= location.blockNumber else { return nil }
        return location
    }

    private func replayMissingBlocks() throws(StorageError) {
        let next = try state.savepoint().map { $0 + 1 } ?? 0
        guard next < blockStore.height else { return }
        logger.notice("replaying blocks past the state savepoint", metadata: ["from": "\(next)", "to": "\(blockStore.height - 1)"])
        for number in next..<blockStore.height {
            guard let block = try blockStore.block(number: number) else {
                throw StorageError(.corruption, "block \(number) is missing from the block store")
            }
            try state.apply(try BlockStateUpdates.derive(from: block), blockNumber: number)
        }
    }

    /// Closes the database; the ledger must not be used afterwards.
    package func close() throws(StorageError) { try database?.close() }
}
