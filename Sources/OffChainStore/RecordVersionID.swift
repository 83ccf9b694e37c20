import Foundation

/// A (record id, version) pair.
package struct RecordVersionID: Sendable, Hashable, Comparable, CustomStringConvertible {
    package let recordID: String
    package let version: UInt32

    package init(recordID: String, version: UInt32) {
        self.recordID = recordID
        self.version = version
    }

    package static func < (lhs: Self, rhs: Self) -> Bool { (lhs.recordID, lhs.version) < (rhs.recordID, rhs.version) }
    package var description: String { "'\(recordID)' version \(version)" }

    /// The `.versionExists` error for these ids.
    static func alreadyStored(_ ids: [RecordVersionID]) -> OffChainStoreError {
        let names = ids.sorted().prefix(5).map(\.description).joined(separator: ", ")
        let more = ids.count > 5 ? " and \(ids.count - 5) more" : ""
        return OffChainStoreError(.versionExists, "record \(names)\(more) already stored; versions are immutable")
    }
}
