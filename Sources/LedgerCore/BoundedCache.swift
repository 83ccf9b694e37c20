import Synchronization

/// Values derived from keys that recur on every transaction (a chaincode definition decoded from
/// its stored bytes, a policy parsed from its text), kept so the work is done once. Holds at most
/// `capacity` entries and starts over when full: the keys are few in practice, and a bound keeps
/// a stream of distinct ones from growing it.
package final class BoundedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    package let capacity: Int
    private let entries = Mutex<[Key: Value]>([:])

    package init(capacity: Int) { self.capacity = max(1, capacity) }

    /// The value kept for `key`, or `make(key)` kept for next time; nil (not kept) when `make` gives nil.
    package func value(for key: Key, orMake make: (Key) -> Value?) -> Value? {
        if let known = entries.withLock({ $0[key] }) { return known }
        guard let value = make(key) else { return nil }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = value
        }
        return value
    }
}
