/// An infrastructure failure of the ledger's storage: RocksDB, block files, or data found damaged
/// on disk. Invalid transactions are never storage errors.
package struct StorageError: Error, Hashable, CustomStringConvertible {
    package enum Code: String, Sendable, Hashable {
        /// RocksDB reported an error (the reason carries its message).
        case database
        /// Reading or writing a block file failed.
        case io
        /// Stored data does not decode or does not chain: the ledger is damaged.
        case corruption
        /// The caller asked for something the ledger refuses (wrong block number, bad key).
        case invalidArgument
        /// The database was closed, or is busy with open snapshots or iterators.
        case closed
    }

    package let code: Code
    package let reason: String
    package let file: String
    package let line: UInt

    package init(_ code: Code, _ reason: String, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    package var description: String { "\(code.rawValue): \(reason)" }
}
