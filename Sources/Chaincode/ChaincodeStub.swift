import Foundation

/// A key and its value, as range and composite-key queries return them.
public struct KeyValue: Hashable, Sendable {
    public let key: String
    public let value: [UInt8]

    public init(key: String, value: [UInt8]) {
        self.key = key
        self.value = value
    }
}

/// One page of a paginated query; pass `bookmark` to get the next page (nil: no more pages).
public struct QueryPage: Hashable, Sendable {
    public let entries: [KeyValue]
    public let bookmark: String?

    public init(entries: [KeyValue], bookmark: String?) {
        self.entries = entries
        self.bookmark = bookmark
    }
}

/// One committed write or delete of a key, newest first in `history(forKey:)`.
public struct KeyModification: Hashable, Sendable {
    public let transactionID: String
    public let blockNumber: UInt64
    public let transactionNumber: UInt32
    /// nil for a delete.
    public let value: [UInt8]?

    public init(transactionID: String, blockNumber: UInt64, transactionNumber: UInt32, value: [UInt8]?) {
        self.transactionID = transactionID
        self.blockNumber = blockNumber
        self.transactionNumber = transactionNumber
        self.value = value
    }

    public var isDelete: Bool { value == nil }
}

/// The answer of a chaincode call: status below 400 is success.
public struct ChaincodeResponse: Hashable, Sendable {
    public let status: Int32
    public let message: String
    public let payload: [UInt8]

    public init(status: Int32, message: String = "", payload: [UInt8] = []) {
        self.status = status
        self.message = message
        self.payload = payload
    }

    public var isSuccess: Bool { status < 400 }
}

/// What a transaction function can do with the ledger during simulation. Nothing is written until
/// the transaction is ordered and validated: writes are recorded in the transaction's write set.
///
/// Read-set semantics (what validation re-checks):
/// - `getState` of a key not written earlier in this transaction records the key and its
///   committed version (no version when absent). A key already written in this transaction
///   returns that written value (nil after a delete) and records nothing: read-your-own-writes.
/// - Range and partial-composite-key queries read committed state only (not this transaction's
///   own writes) and record the range and every key returned, so validation can detect phantoms.
/// - Paginated queries are for read-only transactions; a transaction that uses one and writes is
///   refused at endorsement.
/// - `getStateValidationParameter` records a read of the key.
public protocol ChaincodeStub: AnyObject {
    var transactionID: String { get }
    var channelID: String { get }
    /// The proposal's timestamp, set by the client: use it, never the clock, so that every
    /// endorser computes the same result.
    var transactionTimestamp: Date { get }
    /// The invoking client.
    var clientIdentity: ClientIdentity { get }
    /// Private inputs of the proposal: visible here, never written to the ledger.
    var transient: [String: [UInt8]] { get }

    func getState(_ key: String) throws -> [UInt8]?
    func putState(_ key: String, _ value: [UInt8]) throws
    func deleteState(_ key: String) throws

    /// Keys in [startKey, endKey) (empty `endKey`: to the end), simple keys only.
    func getStateByRange(startKey: String, endKey: String) throws -> [KeyValue]
    func getStateByRange(startKey: String, endKey: String, pageSize: Int, bookmark: String?) throws -> QueryPage
    func getStateByPartialCompositeKey(objectType: String, attributes: [String]) throws -> [KeyValue]
    func getStateByPartialCompositeKey(objectType: String, attributes: [String], pageSize: Int, bookmark: String?) throws -> QueryPage

    /// Committed writes and deletes of `key`, newest first. Not recorded in the read set.
    func history(forKey key: String) throws -> [KeyModification]

    /// The key-level endorsement policy of `key` (Fabric's VALIDATION_PARAMETER), if any.
    func getStateValidationParameter(_ key: String) throws -> [UInt8]?
    func setStateValidationParameter(_ key: String, _ policy: [UInt8]) throws

    /// Sets the transaction's event (one per transaction; a later call replaces it).
    func setEvent(name: String, payload: [UInt8]) throws

    /// Calls another chaincode on the same channel within this transaction: its reads and writes
    /// join this transaction's read/write set under its own namespace.
    func invokeChaincode(_ name: String, arguments: [[UInt8]]) throws -> ChaincodeResponse
}

extension ChaincodeStub {
    public func createCompositeKey(objectType: String, attributes: [String]) throws -> String {
        try CompositeKey.make(objectType: objectType, attributes: attributes)
    }

    public func splitCompositeKey(_ key: String) throws -> (objectType: String, attributes: [String]) {
        try CompositeKey.split(key)
    }
}
