import Foundation
import LedgerCore
import LedgerWire
import Testing
import TestSupport

@testable import WorldState

/// The ledger's storage backends the shared suite runs against: block files with RocksDB, and the
/// in-memory block store and state database of the simulation.
enum LedgerBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case files
    case memory

    var testDescription: String { rawValue }

    /// One ledger's storage, opened again after a crash as the backend allows.
    final class Storage {
        let backend: LedgerBackend
        private let temporary = TemporaryLedger()
        private let blockStore = InMemoryBlockStore()
        private let state = InMemoryStateDatabase()
        private(set) var ledger: Ledger

        init(_ backend: LedgerBackend) throws {
            self.backend = backend
            switch backend {
            case .files: ledger = try temporary.open()
            case .memory: ledger = try Ledger(blockStore: blockStore, state: state)
            }
        }

        /// The process stops without warning and starts again: for files the database is closed
        /// and opened; in memory the state loses every write not synchronized.
        func crashAndReopen() throws {
            switch backend {
            case .files:
                try ledger.close()
                ledger = try temporary.open()
            case .memory:
                state.crash(keeping: 0)
                ledger = try Ledger(blockStore: blockStore, state: state)
            }
        }

        func remove() {
            try? ledger.close()
            temporary.remove()
        }
    }
}

@Suite struct LedgerStorageSuite {
    typealias Transaction = SyntheticBlocks.Transaction

    @Test(arguments: LedgerBackend.allCases)
    func commitsLooksUpAndReopens(_ backend: LedgerBackend) throws {
        let storage = try LedgerBackend.Storage(backend)
        defer { storage.remove() }
        var factory = SyntheticBlocks()
        var blocks: [Common_Block] = []
        for index in 0..<4 {
            let block = try factory.next([
                Transaction(writes: [("k\(index)", bytes("v\(index)")), ("shared", bytes("\(index)"))]),
                Transaction(writes: [("never", bytes("x"))], code: .mvccReadConflict),
            ])
            try storage.ledger.commit(block)
            blocks.append(block)
        }
        try storage.crashAndReopen()
        let ledger = storage.ledger
        #expect(ledger.height == 4)
        #expect(ledger.blockStore.lastHeaderHash == blocks[3].header.hash)
        #expect(try ledger.blockStore.block(number: 2) == blocks[2])
        #expect(try ledger.blockStore.block(number: 4) == nil)
        #expect(try ledger.blockStore.block(number: UInt64.max) == nil)
        #expect(try ledger.blockStore.block(hash: blocks[1].header.hash) == blocks[1])
        #expect(try ledger.blockStore.block(hash: [1, 2, 3]) == nil)
        let invalid = try TransactionEnvelope(serialized: blocks[3].data.data[1])
        #expect(try ledger.blockStore.transactionLocation(invalid.channelHeader.txID)
            == TransactionLocation(blockNumber: 3, transactionNumber: 1, validationCode: .mvccReadConflict))
        #expect(try ledger.blockStore.transactionLocation("unknown") == nil)
        // Whatever the crash lost of the state was replayed from the blocks.
        let reader = try ledger.state.makeReader()
        #expect(reader.height == 3)
        #expect(try reader.get(namespace: "cc", key: "shared") == VersionedValue(value: bytes("3"), version: version(3, 0)))
        #expect(try reader.get(namespace: "cc", key: "never") == nil)
        #expect(try ledger.history(namespace: "cc", key: "shared").map(\.version.blockNumber) == [3, 2, 1, 0])
    }

    @Test(arguments: LedgerBackend.allCases)
    func refusesBlocksThatAreNotTheNext(_ backend: LedgerBackend) throws {
        let storage = try LedgerBackend.Storage(backend)
        defer { storage.remove() }
        var factory = SyntheticBlocks()
        let first = try factory.next([Transaction(writes: [("a", bytes("1"))])])
        try storage.ledger.commit(first)
        let second = try factory.next([Transaction(writes: [("b", bytes("2"))])])

        var skipping = second
        skipping.header.number = 2
        var unchained = second
        unchained.header.previousHash = Data(repeating: 7, count: 32)
        var tampered = second
        tampered.data.data[0].append(0)
        for (block, expected) in [(first, "not the next block"), (skipping, "not the next block"), (unchained, "does not chain"), (tampered, "data hash")] {
            let error = #expect(throws: StorageError.self) { try storage.ledger.blockStore.append(block) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.reason.contains(expected) == true, "\(String(describing: error))")
        }
        #expect(storage.ledger.height == 1, "a refused block changes nothing")
        try storage.ledger.commit(second)
        #expect(storage.ledger.height == 2)
    }

    /// A txid keeps its first location: a later DUPLICATE_TXID copy is not indexed, and an
    /// orderer's block (no validation codes) repeating a txid leaves the first entry.
    @Test(arguments: LedgerBackend.allCases)
    func aTransactionIDKeepsItsFirstLocation(_ backend: LedgerBackend) throws {
        let storage = try LedgerBackend.Storage(backend)
        defer { storage.remove() }
        var factory = SyntheticBlocks()
        let first = try factory.next([Transaction(writes: [("a", bytes("1"))])])
        try storage.ledger.commit(first)
        let txID = try TransactionEnvelope(serialized: first.data.data[0]).channelHeader.txID

        var repeated = Common_Block(number: 1, previousHash: first.header.hash, envelopes: [first.data.data[0], first.data.data[0]])
        repeated.setValidationCodes([.duplicateTxid, .duplicateTxid])
        try storage.ledger.blockStore.append(repeated)
        let unvalidated = Common_Block(number: 2, previousHash: repeated.header.hash, envelopes: [first.data.data[0]])
        try storage.ledger.blockStore.append(unvalidated)
        #expect(try storage.ledger.blockStore.transactionLocation(txID) == TransactionLocation(blockNumber: 0, transactionNumber: 0, validationCode: .valid))
    }

    @Test(arguments: LedgerBackend.allCases)
    func refusesAStateAheadOfItsBlocks(_ backend: LedgerBackend) throws {
        let storage = try LedgerBackend.Storage(backend)
        defer { storage.remove() }
        var factory = SyntheticBlocks()
        try storage.ledger.commit(try factory.next([Transaction(writes: [("a", bytes("1"))])]))
        try storage.ledger.state.apply(StateUpdateBatch(), blockNumber: 1)
        if backend == .memory { try #require(storage.ledger.state as? InMemoryStateDatabase)?.synchronize() }
        let error = #expect(throws: StorageError.self) { try storage.crashAndReopen() }
        #expect(error?.code == .corruption)
        #expect(error?.reason.contains("at block 1") == true && error?.reason.contains("only 1 blocks") == true, "\(String(describing: error))")
    }
}

/// The in-memory state's crash model: a crash keeps the synchronized state and a prefix of the
/// writes after it, never a later write without an earlier one.
@Suite struct InMemoryStateCrashTests {
    @Test func aCrashKeepsTheSynchronizedStateAndAPrefixOfLaterWrites() throws {
        let state = InMemoryStateDatabase()
        func write(_ key: String, _ value: String, block: UInt64) throws {
            var batch = StateUpdateBatch()
            batch.put(namespace: "cc", key: key, value: bytes(value), version: version(block, 0))
            try state.apply(batch, blockNumber: block)
        }
        try write("a", "0", block: 0)
        state.synchronize()
        try write("a", "1", block: 1)
        try write("b", "2", block: 2)
        try write("c", "3", block: 3)
        #expect(state.unsynchronizedCount == 3)
        state.crash(keeping: 1)
        #expect(try state.savepoint() == 1)
        let reader = try state.makeReader()
        #expect(try reader.get(namespace: "cc", key: "a")?.value == bytes("1"))
        #expect(try reader.get(namespace: "cc", key: "b") == nil)
        #expect(try state.history(namespace: "cc", key: "a").map(\.blockNumber) == [1, 0])
        // What survived a crash is durable: a second crash keeps it.
        state.crash(keeping: 0)
        #expect(try state.savepoint() == 1)
        try write("b", "2", block: 2)
        #expect(try state.makeReader().get(namespace: "cc", key: "b")?.value == bytes("2"))
    }

    @Test func oldWritesReachTheDiskOnTheirOwn() throws {
        let state = InMemoryStateDatabase()
        let count = InMemoryStateDatabase.unsynchronizedMax + 10
        for block in 0..<UInt64(count) { try state.apply(StateUpdateBatch(), blockNumber: block) }
        #expect(state.unsynchronizedCount == InMemoryStateDatabase.unsynchronizedMax)
        state.crash(keeping: 0)
        #expect(try state.savepoint() == 9)
    }
}
