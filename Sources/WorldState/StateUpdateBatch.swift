/// The state changes of one block, merged per key in transaction order, as `apply` writes them.
/// Merging follows Fabric: a later write of the same key wins; writing a value keeps the key's
/// metadata; writing metadata keeps its value and gives the key the writer's version; a delete
/// removes both. Metadata written to a key that does not exist at that transaction (deleted
/// earlier in the block, or absent before the block and not yet written in it) is dropped, as
/// Fabric drops it, even if a later transaction of the block creates the key.
package struct StateUpdateBatch: Sendable {
    package enum ValueChange: Hashable, Sendable {
        case unchanged
        case set([UInt8])
        case deleted
    }

    package struct KeyChange: Hashable, Sendable {
        package var value: ValueChange = .unchanged
        /// nil: keep the key's metadata.
        package var metadata: [String: [UInt8]]?
        package var version: StateVersion
        /// The metadata was written while this block had not written the key's value: it holds
        /// only if the key existed before the block.
        package var metadataNeedsCommittedKey = false
    }

    package struct Key: Hashable, Sendable, Comparable {
        package let namespace: String
        package let key: String

        package init(namespace: String, key: String) {
            self.namespace = namespace
            self.key = key
        }

        package static func < (lhs: Self, rhs: Self) -> Bool { (lhs.namespace, lhs.key) < (rhs.namespace, rhs.key) }
    }

    package private(set) var changes: [Key: KeyChange] = [:]
    /// Every write and delete in order, for the history index (one entry per transaction and key).
    package private(set) var historyEntries: [(key: Key, version: StateVersion)] = []

    package init() {}

    package var isEmpty: Bool { changes.isEmpty }

    package mutating func put(namespace: String, key: String, value: [UInt8], version: StateVersion) {
        let id = Key(namespace: namespace, key: key)
        var change = changes[id] ?? KeyChange(version: version)
        change.value = .set(value)
        change.version = version
        changes[id] = change
        recordHistory(id, version)
    }

    package mutating func delete(namespace: String, key: String, version: StateVersion) {
        let id = Key(namespace: namespace, key: key)
        changes[id] = KeyChange(value: .deleted, metadata: [:], version: version)
        recordHistory(id, version)
    }

    package mutating func putMetadata(namespace: String, key: String, metadata: [String: [UInt8]], version: StateVersion) {
        let id = Key(namespace: namespace, key: key)
        var change = changes[id] ?? KeyChange(version: version)
        switch change.value {
        case .deleted:
            return  // the key does not exist at this transaction
        case .set:
            change.metadataNeedsCommittedKey = false
        case .unchanged:
            change.metadataNeedsCommittedKey = true
        }
        change.metadata = metadata
        change.version = version
        changes[id] = change
    }

    private mutating func recordHistory(_ key: Key, _ version: StateVersion) {
        if let last = historyEntries.last, last.key == key, last.version == version { return }
        historyEntries.append((key, version))
    }

    /// The value a key has after this change, given its committed value before; nil when absent.
    static func resolve(_ change: KeyChange, over existing: VersionedValue?) -> VersionedValue? {
        switch change.value {
        case .deleted:
            return nil
        case .set(let value):
            // Metadata written before the block created the key had nothing to attach to.
            let written = change.metadataNeedsCommittedKey && existing == nil ? nil : change.metadata
            return VersionedValue(value: value, version: change.version, metadata: written ?? existing?.metadata ?? [:])
        case .unchanged:
            // Metadata written for a key that does not exist has nothing to attach to.
            guard let existing else { return nil }
            return VersionedValue(value: existing.value, version: change.version, metadata: change.metadata ?? existing.metadata)
        }
    }
}
