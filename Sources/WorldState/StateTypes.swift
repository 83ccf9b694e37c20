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
