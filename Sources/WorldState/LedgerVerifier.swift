import Foundation
import Logging

/// `medrex ledger verify`: re-reads every block (checksums, data hashes, the hash chain),
/// replays the valid writes of every block into a fresh in-memory state, and compares that
/// state's digest with the state database's.
package enum LedgerVerifier {
    package struct Report: Sendable {
        package var blocks: UInt64 = 0
        package var transactions = 0
        package var stateEntries = 0
        package var stateDigest = ""
        package var savepoint: UInt64?
        /// The first block that failed a check, if one did.
        package var firstBadBlock: UInt64?
        /// What is wrong; nil when the ledger verified.
        package var problem: String?

        package var isSound: Bool { problem == nil }
    }

    package static func verify(directory: URL, logger: Logger = Logger(label: "medrex.ledger.verify")) -> Report {
        var report = Report()
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("index").path) else {
            report.problem = "no ledger at \(directory.path)"
            return report
        }
        let ledger: Ledger
        do {
            ledger = try Ledger(directory: directory, logger: logger)
        } catch {
            report.problem = "cannot open the ledger: \(error)"
            return report
        }
        defer { try? ledger.close() }
        let replay = InMemoryStateDatabase()
        var namespaces: Set<String> = []
        for number in 0..<ledger.height {
            do {
                guard let block = try ledger.blockStore.block(number: number) else {
                    throw StorageError(.corruption, "block is missing")
                }
                let updates = try BlockStateUpdates.derive(from: block)
                namespaces.formUnion(updates.changes.keys.map(\.namespace))
                try replay.apply(updates, blockNumber: number)
                report.blocks += 1
                report.transactions += block.data.data.count
            } catch {
                report.firstBadBlock = number
                report.problem = "block \(number): \(error)"
                return report
            }
        }
        do {
            report.savepoint = try ledger.state.savepoint()
            let expected = try StateDigest.compute(replay.makeReader(), namespaces: Array(namespaces))
            let actual = try StateDigest.compute(ledger.state.makeReader(), namespaces: Array(namespaces))
            report.stateEntries = actual.entries
            report.stateDigest = actual.digest
            if report.savepoint != (ledger.height == 0 ? nil : ledger.height - 1) {
                report.problem = "state savepoint \(report.savepoint.map(String.init) ?? "none") does not match the last block \(ledger.height &- 1)"
            } else if expected.digest != actual.digest {
                report.problem = "state database (\(actual.entries) entries) differs from a replay of the blocks (\(expected.entries) entries)"
            }
        } catch {
            report.problem = "state cannot be read: \(error)"
        }
        return report
    }
}
