import LedgerCore

/// An infrastructure failure of the ledger's storage: RocksDB, block files, or data found damaged
/// on disk. Invalid transactions are never storage errors.
package typealias StorageError = DomainError<StorageErrorCode>

/// The codes of `StorageError`.
package enum StorageErrorCode: String, DomainErrorCode {
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
