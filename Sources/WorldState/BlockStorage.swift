import Foundation
import LedgerCore
import LedgerWire
import Synchronization

/// What the ledger, the committer, the orderers and the Deliver services need of a channel's
/// block store. `BlockStore` keeps blocks in files indexed in RocksDB; `InMemoryBlockStore` keeps
/// them in memory for tests and the simulation. Both refuse a block that is not the next one.
package protocol BlockStorage: Sendable {
    /// Number of blocks stored (the next block's number).
    var height: UInt64 { get }
    /// Header hash of the last block; empty when the store is empty.
    var lastHeaderHash: [UInt8] { get }
    /// Appends the next block: its number must equal `height`, its previous hash the last block's
    /// header hash, and its data hash its data. Returns once the block is durable.
    func append(_ block: Common_Block) throws(StorageError)
    /// The block with `number`, or nil beyond the height.
    func block(number: UInt64) throws(StorageError) -> Common_Block?
    /// The block whose header hash is `hash`, or nil.
    func block(hash: [UInt8]) throws(StorageError) -> Common_Block?
    /// Where a committed transaction is (its first occurrence; see `BlockTransactionIndex`).
    func transactionLocation(_ txID: String) throws(StorageError) -> TransactionLocation?
}

/// Which transactions of a block the txid index records, shared by every block store: a txid
/// keeps its first location, as in Fabric. An entry the validator marked DUPLICATE_TXID is not
/// recorded; in blocks without validation codes (the orderer's) a txid already indexed is skipped.
package enum BlockTransactionIndex {
    package struct Entry {
        package let transactionID: String
        package let position: UInt32
        package let code: Protos_TxValidationCode
    }

    package static func entries(of block: Common_Block, isIndexed: (String) -> Bool) -> [Entry] {
        let codes = block.transactionValidationCodes
        var seen: Set<String> = []
        var entries: [Entry] = []
        for (position, envelope) in block.data.data.enumerated() {
            guard let txID = transactionID(of: envelope), !txID.isEmpty, seen.insert(txID).inserted else { continue }
            let code = codes?[position] ?? .notValidated
            if code == .duplicateTxid { continue }
            if codes == nil, isIndexed(txID) { continue }
            entries.append(Entry(transactionID: txID, position: UInt32(truncatingIfNeeded: position), code: code))
        }
        return entries
    }

    /// The txid from the channel header, decoding only the headers.
    static func transactionID(of envelope: Data) -> String? {
        guard let outer = try? Common_Envelope(serializedBytes: envelope),
            let payload = try? Common_Payload(serializedBytes: outer.payload),
            let header = try? Common_ChannelHeader(serializedBytes: payload.header.channelHeader)
        else { return nil }
        return header.txID
    }
}

/// A block store in memory with the same contract as `BlockStore`, for tests and the simulation.
/// An append is durable when it returns (the file store fsyncs before it indexes), so a simulated
/// crash keeps every block; `crashAppending` stands for a crash in the middle of an append.
package final class InMemoryBlockStore: BlockStorage {
    private struct Contents {
        var blocks: [Common_Block] = []
        var numbersByHash: [[UInt8]: UInt64] = [:]
        var transactions: [String: TransactionLocation] = [:]
    }

    private let contents = Mutex(Contents())

    package init() {}

    package var height: UInt64 { contents.withLock { UInt64($0.blocks.count) } }

    package var lastHeaderHash: [UInt8] { contents.withLock { $0.blocks.last?.header.hash ?? [] } }

    package func append(_ block: Common_Block) throws(StorageError) {
        try contents.withLock { contents throws(StorageError) in
            try BlockStore.checkSuccessor(
                block, height: UInt64(contents.blocks.count), lastHeaderHash: contents.blocks.last?.header.hash ?? [])
            let number = block.header.number
            let indexed = contents.transactions
            for entry in BlockTransactionIndex.entries(of: block, isIndexed: { indexed[$0] != nil }) {
                contents.transactions[entry.transactionID] = TransactionLocation(
                    blockNumber: number, transactionNumber: entry.position, validationCode: entry.code)
            }
            contents.numbersByHash[block.header.hash] = number
            contents.blocks.append(block)
        }
    }

    package func block(number: UInt64) throws(StorageError) -> Common_Block? {
        contents.withLock { contents in
            number < UInt64(contents.blocks.count) ? contents.blocks[Int(number)] : nil
        }
    }

    package func block(hash: [UInt8]) throws(StorageError) -> Common_Block? {
        guard let number = contents.withLock({ $0.numbersByHash[hash] }) else { return nil }
        return try block(number: number)
    }

    package func transactionLocation(_ txID: String) throws(StorageError) -> TransactionLocation? {
        contents.withLock { $0.transactions[txID] }
    }
}
