import Foundation
import LedgerCore
import LedgerWire
import Logging
import Testing
import TestSupport

@testable import WorldState

/// A ledger directory removed at the end of a test.
struct TemporaryLedger {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-ledger-\(UUID().uuidString)")

    func open(blockFileBytesMax: Int = 64 * 1024 * 1024) throws -> Ledger {
        try Ledger(directory: directory, blockFileBytesMax: blockFileBytesMax)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    var blockFiles: [URL] {
        let blocks = directory.appendingPathComponent("blocks")
        return ((try? FileManager.default.contentsOfDirectory(atPath: blocks.path)) ?? []).sorted().map { blocks.appendingPathComponent($0) }
    }
}

@Suite struct LedgerTests {
    typealias Transaction = SyntheticBlocks.Transaction

    func commitBlocks(_ ledger: Ledger, _ factory: inout SyntheticBlocks, count: Int) throws -> [Common_Block] {
        var blocks: [Common_Block] = []
        for index in 0..<count {
            let block = try factory.next([
                Transaction(writes: [("k\(index)", bytes("v\(index)")), ("shared", bytes("\(index)"))]),
                Transaction(writes: [("never", bytes("x"))], code: .mvccReadConflict),
            ])
            try ledger.commit(block)
            blocks.append(block)
        }
        return blocks
    }

    @Test func commitsAndLooksUpBlocksByNumberHashAndTxid() throws {
        let temporary = TemporaryLedger()
        defer { temporary.remove() }
        let ledger = try temporary.open()
        var factory = SyntheticBlocks()
        let blocks = try commitBlocks(ledger, &factory, count: 5)
        #expect(ledger.height == 5)
        #expect(try ledger.blockStore.block(number: 3) == blocks[3])
        #expect(try ledger.blockStore.block(number: 5) == nil)
        #expect(try ledger.blockStore.block(hash: blocks[2].header.hash) == blocks[2])
        let invalid = try TransactionEnvelope(serialized: blocks[4].data.data[1])
        let location = try #require(try ledger.blockStore.transactionLocation(invalid.channelHeader.txID))
        #expect(location == TransactionLocation(blockNumber: 4, transactionNumber: 1, validationCode: .mvccReadConflict))
        #expect(try ledger.blockStore.transactionLocation("unknown") == nil)

        let reader = try ledger.state.makeReader()
        #expect(reader.height == 4)
        #expect(try reader.get(namespace: "cc", key: "shared") == VersionedValue(value: bytes("4"), version: version(4, 0)))
        #expect(try reader.get(namespace: "cc", key: "never") == nil, "an invalid transaction changes no state")
        let history = try ledger.history(namespace: "cc", key: "shared")
        #expect(history.map(\.version.blockNumber) == [4, 3, 2, 1, 0])
        #expect(history.map { $0.value.map { String(decoding: $0, as: UTF8.self) } } == ["4", "3", "2", "1", "0"])
    }

    /// A transaction counts as committed only once its block's state changes are applied: a
    /// caller told "committed" must read its writes (the block store is written first).
    @Test func aTransactionIsCommittedOnlyOnceItsStateIsApplied() throws {
        let temporary = TemporaryLedger()
        defer { temporary.remove() }
        let ledger = try temporary.open()
        var factory = SyntheticBlocks()
        _ = try commitBlocks(ledger, &factory, count: 1)
        let block = try factory.next([Transaction(writes: [("after", bytes("1"))])])
        let txID = try TransactionEnvelope(serialized: block.data.data[0]).channelHeader.txID
        // The moment inside `commit` between the two writes.
        try ledger.blockStore.append(block)
        #expect(try ledger.blockStore.transactionLocation(txID) != nil)
        #expect(try ledger.committedTransaction(txID) == nil)
        try ledger.state.apply(try BlockStateUpdates.derive(from: block), blockNumber: block.header.number)
        #expect(try ledger.committedTransaction(txID) == TransactionLocation(blockNumber: 1, transactionNumber: 0, validationCode: .valid))
        #expect(try ledger.state.makeReader().get(namespace: "cc", key: "after") != nil)
        #expect(try ledger.committedTransaction("unknown") == nil)
    }

    @Test func historyCarriesDeleteMarkers() throws {
        let temporary = TemporaryLedger()
        defer { temporary.remove() }
        let ledger = try temporary.open()
        var factory = SyntheticBlocks()
        try ledger.commit(try factory.next([Transaction(writes: [("k", bytes("a"))])]))
        try ledger.commit(try factory.next([Transaction(writes: [("k", nil)])]))
        try ledger.commit(try factory.next([Transaction(writes: [("k", bytes("c"))])]))
        let history = try ledger.history(namespace: "cc", key: "k")
        #expect(history.map(\.isDelete) == [false, true, false])
        #expect(history.first?.value == bytes("c"))
    }

    @Test func refusesBlocksThatDoNotChain() throws {
        let temporary = TemporaryLedger()
        defer { temporary.remove() }
        let ledger = try temporary.open()
        var factory = SyntheticBlocks()
        _ = try commitBlocks(ledger, &factory, count: 2)
        var skipped = factory
        _ = try skipped.next([Transaction(writes: [("a", [1])])])
        let gap = try skipped.next([Transaction(writes: [("a", [1])])])
        #expect(throws: StorageError.self) { try ledger.commit(gap) }
        var forked = try factory.next([Transaction(writes: [("a", [1])])])
        forked.header.previousHash = Data(repeating: 7, count: 32)
        #expect(throws: StorageError.self) { try ledger.commit(forked) }
        var otherChannel = SyntheticBlocks(channelID: "x")
        var badData = try otherChannel.next([])
        badData.header.number = 2
        #expect(throws: StorageError.self) { try ledger.commit(badData) }
        #expect(ledger.height == 2)
        #expect(try ledger.state.savepoint() == 1)
    }

    @Test func rollsBlockFilesAndReopens() throws {
        let temporary = TemporaryLedger()
        defer { temporary.remove() }
        var factory = SyntheticBlocks()
        var blocks: [Common_Block] = []
        do {
            let ledger = try temporary.open(blockFileBytesMax: 4096)
            blocks = try commitBlocks(ledger, &factory, count: 30)
            try ledger.close()
        }
        #expect(temporary.blockFiles.count > 3)
        let reopened = try temporary.open(blockFileBytesMax: 4096)
        #expect(reopened.height == 30)
        for (number, block) in blocks.enumerated() {
            #expect(try reopened.blockStore.block(number: UInt64(number)) == block)
        }
        try reopened.commit(try factory.next([Transaction(writes: [("after", [1])])]))
        #expect(try reopened.state.makeReader().get(namespace: "cc", key: "after")?.version == version(30, 0))
    }

    @Test func truncatesATornLastRecord() throws {
        let temporary = TemporaryLedger()
        defer { temporary.remove() }
        var factory = SyntheticBlocks()
        do {
            let ledger = try temporary.open()
            _ = try commitBlocks(ledger, &factory, count: 3)
            try ledger.close()
        }
        let file = try #require(temporary.blockFiles.last)
        let intact = try Data(contentsOf: file)
        // A partial record: a plausible header and half of a block.
        let next = try factory.next([Transaction(writes: [("torn", [1])])])
        let bytes = try next.serializedData()
        let partial = StateEncoding.bigEndian(UInt32(bytes.count)) + [UInt8](repeating: 0, count: 8) + Array(bytes.prefix(bytes.count / 2))
        try (intact + partial).write(to: file)

        let reopened = try temporary.open()
        #expect(reopened.height == 3)
        #expect(try Data(contentsOf: file) == intact)
        try reopened.commit(next)
        #expect(reopened.height == 4)
    }

    /// A state ahead of its blocks (files lost or mixed up) is refused with both heights named,
    /// and the ledger is left as it was.
    @Test func refusesAStateAheadOfItsBlocks() throws {
        let temporary = TemporaryLedger()
        defer { temporary.remove() }
        var factory = SyntheticBlocks()
        do {
            let ledger = try temporary.open()
            _ = try commitBlocks(ledger, &factory, count: 3)
            try ledger.state.apply(StateUpdateBatch(), blockNumber: 3)
            try ledger.close()
        }
        let error = #expect(throws: StorageError.self) { _ = try temporary.open() }
        #expect(error?.code == .corruption)
        #expect(error?.reason.contains("at block 3") == true && error?.reason.contains("only 3 blocks") == true, "\(String(describing: error))")
        // Refused again, not repaired by the first attempt.
        #expect(throws: StorageError.self) { _ = try temporary.open() }
    }

    @Test func replaysBlocksTheStateHasNotSeen() throws {
        let temporary = TemporaryLedger()
        defer { temporary.remove() }
        var factory = SyntheticBlocks()
        do {
            let ledger = try temporary.open()
            _ = try commitBlocks(ledger, &factory, count: 3)
            // A crash between the block append and the state batch: the block is stored only.
            try ledger.blockStore.append(try factory.next([Transaction(writes: [("late", bytes("yes"))])]))
            #expect(try ledger.state.savepoint() == 2)
            try ledger.close()
        }
        let reopened = try temporary.open()
        #expect(try reopened.state.savepoint() == 3)
        #expect(try reopened.state.makeReader().get(namespace: "cc", key: "late")?.value == bytes("yes"))
        try reopened.close()
        #expect(LedgerVerifier.verify(directory: temporary.directory).isSound)
    }

    @Test func readBackDetectsDamageAndVerifyNamesTheBlock() throws {
        let temporary = TemporaryLedger()
        defer { temporary.remove() }
        var factory = SyntheticBlocks()
        do {
            let ledger = try temporary.open()
            _ = try commitBlocks(ledger, &factory, count: 4)
            try ledger.close()
        }
        let sound = LedgerVerifier.verify(directory: temporary.directory)
        #expect(sound.isSound, "\(sound.problem ?? "")")
        #expect(sound.blocks == 4)
        #expect(sound.transactions == 8)
        #expect(sound.stateEntries == 5)

        // Flip one byte inside block 2's record.
        let ledger = try temporary.open()
        let location = try #require(try (ledger.blockStore as? BlockStore)?.location(of: 2))
        try ledger.close()
        let file = try #require(temporary.blockFiles.first)
        var contents = try Data(contentsOf: file)
        contents[Int(location.offset) + BlockStore.recordHeaderBytes + 20] ^= 0x40
        try contents.write(to: file)

        let damaged = LedgerVerifier.verify(directory: temporary.directory)
        #expect(!damaged.isSound)
        #expect(damaged.firstBadBlock == 2)
        #expect(damaged.problem?.contains("block 2") == true)
        let reopened = try temporary.open()
        #expect(throws: StorageError.self) { _ = try reopened.blockStore.block(number: 2) }
    }

    @Test func verifyDetectsAStateThatDiffersFromTheBlocks() throws {
        let temporary = TemporaryLedger()
        defer { temporary.remove() }
        var factory = SyntheticBlocks()
        do {
            let ledger = try temporary.open()
            _ = try commitBlocks(ledger, &factory, count: 2)
            try ledger.close()
        }
        do {
            let rocks = try RocksDatabase(
                path: temporary.directory.appendingPathComponent("index").path,
                columnFamilies: BlockStore.columnFamilies + RocksStateDatabase.columnFamilies)
            let batch = rocks.makeWriteBatch()
            batch.put(StateEncoding.stateKey(namespace: "cc", key: "shared"), try StateEncoding.encode(VersionedValue(value: bytes("forged"), version: version(1, 0))), in: rocks.columnFamily("state"))
            try rocks.write(batch, sync: true)
            try rocks.close()
        }
        let report = LedgerVerifier.verify(directory: temporary.directory)
        #expect(!report.isSound)
        #expect(report.problem?.contains("differs from a replay") == true)
    }
}
