import Crypto
import Foundation
import LedgerCore
import LedgerWire
import Logging
import SwiftProtobuf
import Synchronization

/// Where a committed transaction is: its block, its index in the block and its validation code.
package struct TransactionLocation: Hashable, Sendable {
    package let blockNumber: UInt64
    package let transactionNumber: UInt32
    package let validationCode: Protos_TxValidationCode
}

/// The append-only block store of one channel: blocks in numbered files (`blockfile_NNNNNN`,
/// rolled at `fileBytesMax`), each record `length (4) ‖ SHA-256 prefix (8) ‖ block bytes`, and an
/// index in RocksDB (number → location and header hash, header hash → number, txid → location).
///
/// A block is written and fsynced before its index entries; on open, blocks found in the files
/// beyond the index are indexed again and a torn last record is truncated (and logged). The hash
/// chain is checked when a block is appended and again when it is read back.
///
/// `@unchecked Sendable`: appends are serialized by `appendLock`; reads use positional reads on
/// their own file handles and RocksDB, both safe concurrently.
package final class BlockStore: BlockStorage, @unchecked Sendable {
    package static let columnFamilies = ["blocks"]
    static let recordHeaderBytes = 12

    private let directory: URL
    private let database: RocksDatabase
    private let index: RocksDatabase.ColumnFamily
    private let fileBytesMax: Int
    private let logger: Logger
    private let appendLock = Mutex(AppendState(height: 0, lastHeaderHash: [], fileNumber: 0, fileOffset: 0))

    struct AppendState {
        var height: UInt64
        var lastHeaderHash: [UInt8]
        var fileNumber: UInt32
        var fileOffset: UInt64
    }

    package struct Location: Hashable, Sendable {
        let fileNumber: UInt32
        let offset: UInt64
        let length: UInt32
        let headerHash: [UInt8]
    }

    /// Opens the store in `directory` (created if missing) with its index in `database`, which
    /// must have been opened with `BlockStore.columnFamilies`. Repairs a torn tail (see above).
    package init(directory: URL, database: RocksDatabase, fileBytesMax: Int = 64 * 1024 * 1024, logger: Logger) throws(StorageError) {
        self.directory = directory
        self.database = database
        self.index = database.columnFamily("blocks")
        self.fileBytesMax = fileBytesMax
        self.logger = logger
        guard !database.isReadOnly else {
            // Read-only (ledger verification): the indexed blocks as they are; nothing repaired.
            try recover(repairing: false)
            return
        }
        if !FileManager.default.fileExists(atPath: directory.path) {
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw StorageError(.io, "cannot create block directory \(directory.path): \(error.localizedDescription)")
            }
            try Self.synchronizeDirectory(directory.deletingLastPathComponent())
        }
        try recover(repairing: true)
    }

    /// fsyncs a directory, so that the files created in it survive a crash of the machine.
    static func synchronizeDirectory(_ directory: URL) throws(StorageError) {
        let descriptor = open(directory.path, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { throw StorageError(.io, "cannot open directory \(directory.path) to sync it (errno \(errno))") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw StorageError(.io, "cannot sync directory \(directory.path) (errno \(errno))") }
    }

    /// Number of blocks stored (the next block's number).
    package var height: UInt64 { appendLock.withLock { $0.height } }

    /// Header hash of the last block; empty when the store is empty.
    package var lastHeaderHash: [UInt8] { appendLock.withLock { $0.lastHeaderHash } }

    // MARK: - Append

    /// Appends the next block: its number must equal `height`, its previous hash the last block's
    /// header hash, and its data hash its data. Returns after the block is fsynced and indexed.
    package func append(_ block: Common_Block) throws(StorageError) {
        let bytes: Data
        do {
            bytes = try block.serializedData()
        } catch {
            throw StorageError(.invalidArgument, "block \(block.header.number) cannot be serialized")
        }
        try appendLock.withLock { state throws(StorageError) in
            try Self.checkSuccessor(block, height: state.height, lastHeaderHash: state.lastHeaderHash)
            if state.fileOffset > 0, state.fileOffset + UInt64(bytes.count + Self.recordHeaderBytes) > UInt64(fileBytesMax) {
                state.fileNumber += 1
                state.fileOffset = 0
            }
            let location = Location(
                fileNumber: state.fileNumber, offset: state.fileOffset, length: UInt32(bytes.count), headerHash: block.header.hash)
            try writeRecord(bytes, at: location)
            try writeIndex(block, location: location)
            state.height += 1
            state.lastHeaderHash = location.headerHash
            state.fileOffset += UInt64(Self.recordHeaderBytes + bytes.count)
        }
    }

    static func checkSuccessor(_ block: Common_Block, height: UInt64, lastHeaderHash: [UInt8]) throws(StorageError) {
        guard block.header.number == height else {
            throw StorageError(.invalidArgument, "block \(block.header.number) is not the next block (height \(height))")
        }
        guard block.header.previousHash.elementsEqual(lastHeaderHash) else {
            throw StorageError(.invalidArgument, "block \(block.header.number) does not chain onto block \(height &- 1)")
        }
        guard block.hasConsistentDataHash else {
            throw StorageError(.invalidArgument, "block \(block.header.number) has a data hash that does not match its data")
        }
    }

    private func fileURL(_ number: UInt32) -> URL {
        directory.appendingPathComponent(String(format: "blockfile_%06u", number))
    }

    private func writeRecord(_ bytes: Data, at location: Location) throws(StorageError) {
        let url = fileURL(location.fileNumber)
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw StorageError(.io, "cannot create block file \(url.path)")
            }
            // The new file's directory entry must be durable before any block in it counts as stored.
            try Self.synchronizeDirectory(directory)
        }
        var record = StateEncoding.bigEndian(UInt32(bytes.count))
        record += SHA256.hash(data: bytes).prefix(8)
        record += bytes
        do {
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.truncate(atOffset: location.offset)
            try handle.seek(toOffset: location.offset)
            try handle.write(contentsOf: record)
            try handle.synchronize()
        } catch {
            throw StorageError(.io, "cannot write block \(location) to \(url.path): \(error.localizedDescription)")
        }
    }

    private func writeIndex(_ block: Common_Block, location: Location) throws(StorageError) {
        let number = block.header.number
        let batch = database.makeWriteBatch()
        var value = StateEncoding.bigEndian(location.fileNumber) + StateEncoding.bigEndian(location.offset)
        value += StateEncoding.bigEndian(location.length) + location.headerHash
        batch.put(Self.numberKey(number), value, in: index)
        batch.put(Self.hashKey(location.headerHash), StateEncoding.bigEndian(number), in: index)
        let indexed = { (txID: String) in (try? self.database.get(Self.transactionKey(txID), in: self.index)) != nil }
        for entry in BlockTransactionIndex.entries(of: block, isIndexed: indexed) {
            batch.put(
                Self.transactionKey(entry.transactionID),
                StateEncoding.bigEndian(number) + StateEncoding.bigEndian(entry.position) + [entry.code.filterByte], in: index)
        }
        try database.write(batch)
    }

    static func numberKey(_ number: UInt64) -> [UInt8] { [UInt8(ascii: "n")] + StateEncoding.bigEndian(number) }
    static func hashKey(_ hash: [UInt8]) -> [UInt8] { [UInt8(ascii: "h")] + hash }
    static func transactionKey(_ txID: String) -> [UInt8] { [UInt8(ascii: "t")] + Array(txID.utf8) }

    // MARK: - Reads

    package func location(of number: UInt64) throws(StorageError) -> Location? {
        guard let value = try database.get(Self.numberKey(number), in: index) else { return nil }
        guard value.count == 4 + 8 + 4 + 32 else { throw StorageError(.corruption, "index entry of block \(number) is malformed") }
        return Location(
            fileNumber: StateEncoding.integer(value[0..<4]), offset: StateEncoding.integer(value[4..<12]),
            length: StateEncoding.integer(value[12..<16]), headerHash: Array(value[16...]))
    }

    /// The block with `number`, or nil beyond the height. Checks the record's checksum, the data
    /// hash, the header hash recorded at append, and the link to the previous block.
    package func block(number: UInt64) throws(StorageError) -> Common_Block? {
        guard number < height, let location = try location(of: number) else { return nil }
        let bytes = try readRecord(at: location, number: number)
        guard let block = try? Common_Block(serializedBytes: bytes) else {
            throw StorageError(.corruption, "block \(number) does not decode")
        }
        guard block.header.number == number, block.hasConsistentDataHash, block.header.hash == location.headerHash else {
            throw StorageError(.corruption, "block \(number) does not match its header hash or data hash")
        }
        if number > 0 {
            guard let previous = try self.location(of: number - 1), block.header.previousHash.elementsEqual(previous.headerHash) else {
                throw StorageError(.corruption, "block \(number) does not chain onto block \(number - 1)")
            }
        }
        return block
    }

    package func block(hash: [UInt8]) throws(StorageError) -> Common_Block? {
        guard let value = try database.get(Self.hashKey(hash), in: index), value.count == 8 else { return nil }
        return try block(number: StateEncoding.integer(value))
    }

    package func transactionLocation(_ txID: String) throws(StorageError) -> TransactionLocation? {
        guard let value = try database.get(Self.transactionKey(txID), in: index) else { return nil }
        guard value.count == 13 else { throw StorageError(.corruption, "index entry of transaction \(txID) is malformed") }
        let code = Protos_TxValidationCode(rawValue: Int(value[12])) ?? .UNRECOGNIZED(Int(value[12]))
        return TransactionLocation(blockNumber: StateEncoding.integer(value[0..<8]), transactionNumber: StateEncoding.integer(value[8..<12]), validationCode: code)
    }

    private func readRecord(at location: Location, number: UInt64) throws(StorageError) -> Data {
        let record: Data
        do {
            let handle = try FileHandle(forReadingFrom: fileURL(location.fileNumber))
            defer { try? handle.close() }
            try handle.seek(toOffset: location.offset)
            record = try handle.read(upToCount: Self.recordHeaderBytes + Int(location.length)) ?? Data()
        } catch {
            throw StorageError(.io, "cannot read block \(number): \(error.localizedDescription)")
        }
        guard record.count == Self.recordHeaderBytes + Int(location.length) else {
            throw StorageError(.corruption, "block \(number) is truncated in its file")
        }
        let bytes = record.dropFirst(Self.recordHeaderBytes)
        guard StateEncoding.integer(record.prefix(4)) == location.length,
            Array(SHA256.hash(data: bytes).prefix(8)) == Array(record.dropFirst(4).prefix(8))
        else {
            throw StorageError(.corruption, "block \(number) fails its checksum")
        }
        return Data(bytes)
    }

    // MARK: - Recovery

    /// Finds the last indexed block, then indexes every complete record after it and truncates a
    /// torn one.
    /// Finds the height from the index; with `repairing`, re-indexes complete blocks found past
    /// it in the block files and truncates a torn tail.
    private func recover(repairing: Bool) throws(StorageError) {
        let iterator = try database.makeIterator(index, lowerBound: [UInt8(ascii: "n")], upperBound: [UInt8(ascii: "o")])
        iterator.seekToLast()
        var state = AppendState(height: 0, lastHeaderHash: [], fileNumber: 0, fileOffset: 0)
        if iterator.isValid {
            let number: UInt64 = StateEncoding.integer(iterator.key.dropFirst())
            guard let location = try location(of: number) else { throw StorageError(.corruption, "block index is inconsistent") }
            state = AppendState(
                height: number + 1, lastHeaderHash: location.headerHash, fileNumber: location.fileNumber,
                fileOffset: location.offset + UInt64(Self.recordHeaderBytes) + UInt64(location.length))
        }
        try iterator.checkError()
        while repairing {
            guard let (block, length) = try readUnindexedRecord(fileNumber: state.fileNumber, offset: state.fileOffset, expected: state) else {
                if FileManager.default.fileExists(atPath: fileURL(state.fileNumber + 1).path), state.fileOffset > 0 {
                    state.fileNumber += 1
                    state.fileOffset = 0
                    continue
                }
                break
            }
            let location = Location(fileNumber: state.fileNumber, offset: state.fileOffset, length: UInt32(length), headerHash: block.header.hash)
            try writeIndex(block, location: location)
            logger.notice("re-indexed block found in the block file after a restart", metadata: ["block": "\(block.header.number)"])
            state.height += 1
            state.lastHeaderHash = location.headerHash
            state.fileOffset += UInt64(Self.recordHeaderBytes + length)
        }
        appendLock.withLock { $0 = state }
    }

    /// The complete record at the position, or nil at the end of the data; truncates a partial
    /// or damaged record (and any later files) there.
    private func readUnindexedRecord(fileNumber: UInt32, offset: UInt64, expected: AppendState) throws(StorageError) -> (Common_Block, Int)? {
        let url = fileURL(fileNumber)
        guard let handle = try? FileHandle(forUpdating: url) else { return nil }
        defer { try? handle.close() }
        do {
            let size = try handle.seekToEnd()
            guard size > offset else { return nil }
            try handle.seek(toOffset: offset)
            let header = try handle.read(upToCount: Self.recordHeaderBytes) ?? Data()
            if header.count == Self.recordHeaderBytes {
                let length = Int(StateEncoding.integer(header.prefix(4)) as UInt32)
                let bytes = try handle.read(upToCount: length) ?? Data()
                if bytes.count == length, Array(SHA256.hash(data: bytes).prefix(8)) == Array(header.dropFirst(4)),
                    let block = try? Common_Block(serializedBytes: bytes),
                    (try? Self.checkSuccessor(block, height: expected.height, lastHeaderHash: expected.lastHeaderHash)) != nil
                {
                    return (block, length)
                }
            }
            logger.warning(
                "truncating a torn block record at the end of the block store",
                metadata: ["file": "\(url.lastPathComponent)", "offset": "\(offset)", "bytesDropped": "\(size - offset)"])
            try handle.truncate(atOffset: offset)
            try handle.synchronize()
            return nil
        } catch {
            throw StorageError(.io, "cannot recover block file \(url.path): \(error.localizedDescription)")
        }
    }
}
