import LedgerWire
/// The height of the transaction that last wrote a key: block number and transaction index.
package struct StateVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
    package let blockNumber: UInt64
    package let transactionNumber: UInt32

    package init(blockNumber: UInt64, transactionNumber: UInt32) {
        self.blockNumber = blockNumber
        self.transactionNumber = transactionNumber
    }

    package static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.blockNumber, lhs.transactionNumber) < (rhs.blockNumber, rhs.transactionNumber)
    }

    package var description: String { "\(blockNumber):\(transactionNumber)" }
}

extension StateVersion {
    /// The version a read/write set recorded for a read, or nil when it cannot be a committed
    /// version (a transaction number past `UInt32.max`, from a crafted read set). Such a read
    /// never matches the state: it is a read conflict, never a trap.
    package init?(_ version: Kvrwset_Version) {
        guard let transactionNumber = UInt32(exactly: version.txNum) else { return nil }
        self.init(blockNumber: version.blockNum, transactionNumber: transactionNumber)
    }
}

extension Kvrwset_KVRead {
    /// Whether this read still holds against `current` (the key's version now, nil when absent):
    /// a read without a version expects the key to be absent; one with an impossible version
    /// (see `StateVersion.init?(_:)`) never holds.
    package func matches(_ current: StateVersion?) -> Bool {
        guard hasVersion else { return current == nil }
        guard let recorded = StateVersion(version) else { return false }
        return current == recorded
    }
}

/// A key's committed value with its version and metadata (e.g. `VALIDATION_PARAMETER`).
package struct VersionedValue: Hashable, Sendable {
    package var value: [UInt8]
    package var version: StateVersion
    package var metadata: [String: [UInt8]]

    package init(value: [UInt8], version: StateVersion, metadata: [String: [UInt8]] = [:]) {
        self.value = value
        self.version = version
        self.metadata = metadata
    }
}

/// A key and its committed value, as range queries return them.
package struct StateEntry: Hashable, Sendable {
    package let key: String
    package let value: VersionedValue
}

/// One page of a range or partial-composite-key query. `bookmark` is the key to start the next
/// page from; nil when the range is exhausted.
package struct StatePage: Hashable, Sendable {
    package let entries: [StateEntry]
    package let bookmark: String?
}

/// Names of key metadata entries, as Fabric stores them.
package enum StateMetadataName {
    /// The key-level (state-based) endorsement policy.
    package static let validationParameter = "VALIDATION_PARAMETER"
}
