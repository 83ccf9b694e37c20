import LedgerWire

/// One condition of a transaction: a field of one key compared with a given value.
///
/// A key that does not exist has value `[]`, version 0, create and mod revision 0 and no lease, so
/// `.createRevision(of: key, .equal, 0)` holds exactly when the key is absent.
package struct Comparison: Sendable, Hashable {
    /// How the key's field must relate to the operand.
    package enum Relation: Sendable, Hashable {
        case equal, notEqual, greater, less
    }

    /// The field compared, with the operand.
    package enum Field: Sendable, Hashable {
        case value([UInt8])
        case version(Int64)
        case createRevision(Int64)
        case modRevision(Int64)
        /// The key's lease (`nil`: no lease).
        case lease(LeaseID?)
    }

    package var key: [UInt8]
    package var relation: Relation
    package var field: Field

    package init(key: [UInt8], _ relation: Relation, _ field: Field) {
        self.key = key
        self.relation = relation
        self.field = field
    }

    package static func value(of key: [UInt8], _ relation: Relation, _ value: [UInt8]) -> Comparison {
        Comparison(key: key, relation, .value(value))
    }

    package static func version(of key: [UInt8], _ relation: Relation, _ version: Int64) -> Comparison {
        Comparison(key: key, relation, .version(version))
    }

    package static func createRevision(of key: [UInt8], _ relation: Relation, _ revision: Int64) -> Comparison {
        Comparison(key: key, relation, .createRevision(revision))
    }

    package static func modRevision(of key: [UInt8], _ relation: Relation, _ revision: Int64) -> Comparison {
        Comparison(key: key, relation, .modRevision(revision))
    }

    /// Holds when `key` does not exist.
    package static func absent(_ key: [UInt8]) -> Comparison {
        createRevision(of: key, .equal, 0)
    }

    var wire: Etcdserverpb_Compare {
        var compare = Etcdserverpb_Compare()
        compare.key = .init(key)
        compare.result =
            switch relation {
            case .equal: .equal
            case .notEqual: .notEqual
            case .greater: .greater
            case .less: .less
            }
        switch field {
        case .value(let value):
            compare.target = .value
            compare.value = .init(value)
        case .version(let version):
            compare.target = .version
            compare.version = version
        case .createRevision(let revision):
            compare.target = .create
            compare.createRevision = revision
        case .modRevision(let revision):
            compare.target = .mod
            compare.modRevision = revision
        case .lease(let lease):
            compare.target = .lease
            compare.lease = lease?.rawValue ?? 0
        }
        return compare
    }
}

/// One operation of a transaction branch.
package enum Operation: Sendable, Hashable {
    /// Writes `value` at `key`, attached to `lease` if one is given.
    case put(key: [UInt8], value: [UInt8], lease: LeaseID? = nil)
    /// Deletes the keys of the range.
    case delete(KeyRange)
    /// Reads the keys of the range (at most `limit`; 0 for all).
    case range(KeyRange, limit: Int64 = 0)

    var wire: Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        switch self {
        case .put(let key, let value, let lease):
            op.requestPut = .put(key: key, value: value, lease: lease)
        case .delete(let range):
            op.requestDeleteRange = .delete(range)
        case .range(let range, let limit):
            op.requestRange = .range(range, limit: limit)
        }
        return op
    }
}

/// The result of one operation of the branch a transaction took.
package enum OperationResult: Sendable, Hashable {
    /// A put was applied.
    case put
    /// A delete removed this many keys.
    case delete(deleted: Int64)
    /// A read found these keys.
    case range(RangeResult)

    init(_ wire: Etcdserverpb_ResponseOp) throws {
        switch wire.response {
        case .responsePut: self = .put
        case .responseDeleteRange(let deleted): self = .delete(deleted: deleted.deleted)
        case .responseRange(let range): self = .range(RangeResult(range))
        case nil: throw EtcdError(.malformedResponse, "a transaction response holds an operation result of no known kind")
        }
    }
}

/// What a transaction did.
package struct TransactionResult: Sendable, Hashable {
    /// Whether every comparison held, so that the success branch was applied (else the failure branch).
    package var succeeded: Bool
    /// The store revision after the transaction (unchanged if the branch taken wrote nothing).
    package var revision: Int64
    /// The results of the branch taken, in the order of its operations.
    package var results: [OperationResult]
}

extension Etcdserverpb_PutRequest {
    static func put(key: [UInt8], value: [UInt8], lease: LeaseID?) -> Self {
        var request = Self()
        request.key = .init(key)
        request.value = .init(value)
        request.lease = lease?.rawValue ?? 0
        return request
    }
}

extension Etcdserverpb_DeleteRangeRequest {
    static func delete(_ range: KeyRange) -> Self {
        var request = Self()
        let bounds = range.wireBounds
        request.key = .init(bounds.key)
        request.rangeEnd = .init(bounds.rangeEnd)
        return request
    }
}

extension Etcdserverpb_RangeRequest {
    static func range(_ range: KeyRange, limit: Int64) -> Self {
        var request = Self()
        let bounds = range.wireBounds
        request.key = .init(bounds.key)
        request.rangeEnd = .init(bounds.rangeEnd)
        request.limit = limit
        return request
    }
}
