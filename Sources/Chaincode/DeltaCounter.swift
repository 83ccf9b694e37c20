/// Commutative counters: a counter is the sum of its deltas, each written under a key of its own
/// (composite key `counter`, NAME, txid), so adding to a counter reads nothing another
/// transaction writes. Concurrent additions to one counter never conflict at validation, where a
/// read-modify-write of one key lets only one of them per block be valid (the `hot` workload of
/// `medrex bench`).
///
/// What they give up: a transaction that adds cannot check the value (there is no "insufficient
/// funds" refusal); read the value in a query, or in a transaction that only reads it.
/// `compactCounter` folds the deltas into one; a compaction that races with additions fails
/// validation (phantom read) and changes nothing, while the additions stand.
extension ChaincodeStub {
    /// The object type of delta keys.
    public static var counterObjectType: String { "counter" }

    /// Adds `delta` to counter `name`. Several additions to one counter in one transaction are
    /// summed into the transaction's single delta.
    public func addToCounter(_ name: String, _ delta: Int64) throws {
        let key = try createCompositeKey(objectType: Self.counterObjectType, attributes: [name, transactionID])
        // The transaction's own delta, if it already added (a read of its own write records nothing).
        let earlier = try getState(key).map { try Self.decodeDelta($0, name: name) } ?? 0
        let (sum, overflow) = earlier.addingReportingOverflow(delta)
        guard !overflow else { throw ChaincodeError(.invalidArgument, "counter \(name): the addition overflows") }
        try putState(key, Array(String(sum).utf8))
    }

    /// The value of counter `name`: the sum of its deltas (0 when it has none).
    public func counterValue(_ name: String) throws -> Int64 {
        try Self.sum(try counterDeltas(name), name: name)
    }

    /// Replaces counter `name`'s deltas by one delta holding their sum; returns the value.
    public func compactCounter(_ name: String) throws -> Int64 {
        let deltas = try counterDeltas(name)
        let value = try Self.sum(deltas, name: name)
        for delta in deltas { try deleteState(delta.key) }
        if value != 0 { try addToCounter(name, value) }
        return value
    }

    private static func sum(_ deltas: [(key: String, value: Int64)], name: String) throws -> Int64 {
        try deltas.reduce(into: Int64(0)) { total, delta in
            let (sum, overflow) = total.addingReportingOverflow(delta.value)
            guard !overflow else { throw ChaincodeError(.internalError, "counter \(name) overflows") }
            total = sum
        }
    }

    private func counterDeltas(_ name: String) throws -> [(key: String, value: Int64)] {
        try getStateByPartialCompositeKey(objectType: Self.counterObjectType, attributes: [name]).map { entry in
            (entry.key, try Self.decodeDelta(entry.value, name: name))
        }
    }

    private static func decodeDelta(_ bytes: [UInt8], name: String) throws -> Int64 {
        guard let delta = Int64(String(decoding: bytes, as: UTF8.self)) else {
            throw ChaincodeError(.internalError, "counter \(name) holds a delta that is not an integer")
        }
        return delta
    }
}
