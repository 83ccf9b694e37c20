/// The keys an operation reads, deletes or watches.
package enum KeyRange: Sendable, Hashable {
    /// One key.
    case key([UInt8])
    /// Every key that starts with these bytes (every key at all, for an empty prefix).
    case prefix([UInt8])
    /// The keys from `from` (inclusive) up to `to` (exclusive), in byte order.
    case interval(from: [UInt8], to: [UInt8])
    /// Every key from this one on, in byte order.
    case startingAt([UInt8])

    /// The `key` and `range_end` fields that etcd reads a range from.
    var wireBounds: (key: [UInt8], rangeEnd: [UInt8]) {
        switch self {
        case .key(let key):
            return (key, [])
        case .prefix(let prefix):
            return prefix.isEmpty ? ([0], [0]) : (prefix, Self.firstKeyAfterPrefix(prefix))
        case .interval(let from, let to):
            return (from, to)
        case .startingAt(let key):
            return (key, [0])
        }
    }

    /// The smallest key greater than every key starting with `prefix`; `[0]` ("no end") when no such
    /// key exists because the prefix is all 0xff bytes.
    static func firstKeyAfterPrefix(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }
}
