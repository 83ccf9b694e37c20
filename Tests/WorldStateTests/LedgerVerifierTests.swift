import Foundation
import LedgerCore
import LedgerWire
import Logging
import Testing
import TestSupport

@testable import WorldState

/// `medrex ledger verify` reads peer and orderer ledgers and never writes to what it verifies.
@Suite struct LedgerVerifierTests {
    /// An orderer's ledger holds blocks only (no TRANSACTIONS_FILTER, no state column families):
    /// it verifies as sound, and afterwards the orderer can still open it with its own column
    /// families (verification created none).
    @Test func verifiesAnOrdererLedgerWithoutChangingIt() throws {
        let temporary = TemporaryLedger()
        defer { temporary.remove() }
        let indexPath = temporary.directory.appendingPathComponent("index").path
        var factory = SyntheticBlocks()
        do {
            try FileManager.default.createDirectory(at: temporary.directory, withIntermediateDirectories: true)
            let database = try RocksDatabase(path: indexPath, columnFamilies: BlockStore.columnFamilies)
            let store = try BlockStore(directory: temporary.directory.appendingPathComponent("blocks"), database: database, logger: Logger(label: "test"))
            for index in 0..<3 {
                var block = try factory.next([SyntheticBlocks.Transaction(writes: [("k\(index)", [1])])])
                block.metadata.metadata[Common_BlockMetadataIndex.transactionsFilter.rawValue] = Data()  // as an orderer stores it
                try store.append(block)
            }
            try database.close()
        }
        let familiesBefore = try RocksDatabase.columnFamilies(at: indexPath)
        let filesBefore = try snapshot(temporary.directory)
        let report = LedgerVerifier.verify(directory: temporary.directory)
        #expect(report.isSound, "\(report.problem ?? "")")
        #expect(report.kind == .orderer)
        #expect(report.blocks == 3 && report.transactions == 3)
        #expect(try RocksDatabase.columnFamilies(at: indexPath) == familiesBefore)
        #expect(try snapshot(temporary.directory) == filesBefore, "verification changed files of the ledger")
        // The orderer opens it as before (RocksDB refuses a database whose column families it does not list).
        let reopened = try RocksDatabase(path: indexPath, columnFamilies: BlockStore.columnFamilies)
        try reopened.close()
    }

    @Test func verifyingAPeerLedgerChangesNothing() throws {
        let temporary = TemporaryLedger()
        defer { temporary.remove() }
        var factory = SyntheticBlocks()
        do {
            let ledger = try temporary.open()
            for index in 0..<3 { try ledger.commit(try factory.next([SyntheticBlocks.Transaction(writes: [("k\(index)", [UInt8(index)])])])) }
            try ledger.close()
        }
        let filesBefore = try snapshot(temporary.directory)
        let report = LedgerVerifier.verify(directory: temporary.directory)
        #expect(report.isSound, "\(report.problem ?? "")")
        #expect(report.kind == .peer && report.savepoint == 2)
        #expect(try snapshot(temporary.directory) == filesBefore, "verification changed files of the ledger")
    }

    /// Names and contents of every file under `directory`, except RocksDB's LOG files (which a
    /// read-only open may write).
    private func snapshot(_ directory: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = enumerator?.nextObject() as? URL {
            guard (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true, !url.lastPathComponent.hasPrefix("LOG") else { continue }
            files[url.path] = try Data(contentsOf: url)
        }
        return files
    }
}
