import Foundation

@testable import WorldState

/// The state backends the shared suite runs against.
enum StateBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case rocksDB
    case inMemory

    var testDescription: String { rawValue }

    /// A fresh, empty database, and a clean-up to run at the end.
    func make() throws -> (database: any StateDatabase, cleanUp: @Sendable () -> Void) {
        switch self {
        case .inMemory:
            return (InMemoryStateDatabase(), {})
        case .rocksDB:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-state-\(UUID().uuidString)")
            let rocks = try RocksDatabase(path: directory.path, columnFamilies: RocksStateDatabase.columnFamilies)
            return (RocksStateDatabase(database: rocks), { try? FileManager.default.removeItem(at: directory) })
        }
    }
}

import Testing

func version(_ block: UInt64, _ transaction: UInt32) -> StateVersion {
    StateVersion(blockNumber: block, transactionNumber: transaction)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
