import Chaincode
import Foundation
import LedgerCore
import LedgerWire
import SwiftProtobuf
import WorldState

/// Runs one proposal's chaincode against a committed-state snapshot and records what it read and
/// wrote; nothing touches the ledger. Implements `ChaincodeStub` (see its read-set semantics).
/// The result is deterministic: entries are sorted so that two endorsers running the same
/// proposal on the same state produce byte-identical read/write sets.
final class TransactionSimulator {
    struct Context {
        let transactionID: String
        let channelID: String
        let timestamp: Date
        let clientIdentity: ClientIdentity
        let transient: [String: [UInt8]]
        let reader: any StateReader
        /// Committed history of a key (namespace, key), newest first.
        let history: (String, String) throws -> [KeyModification]
        /// The chaincodes of the channel, for `invokeChaincode`.
        let contracts: (String) -> ContractRouter?
        /// Simulation stops with an error once this passes (checked on every stub call).
        let deadline: ContinuousClock.Instant
    }

    let context: Context
    private var reads: [String: [String: Kvrwset_Version?]] = [:]
    private var writes: [String: [String: [UInt8]?]] = [:]
    private var metadataWrites: [String: [String: [String: [UInt8]]]] = [:]
    private var rangeQueries: [String: [Kvrwset_RangeQueryInfo]] = [:]
    private(set) var event: Protos_ChaincodeEvent?
    private(set) var usedPaginatedQuery = false
    private(set) var stubCalls = 0
    private var callDepth = 0

    static let invocationDepthMax = 8

    init(_ context: Context) { self.context = context }

    /// Runs `arguments` (function name first) on `router` in `namespace`.
    func run(_ router: ContractRouter, namespace: String, arguments: [[UInt8]]) -> ChaincodeResponse {
        router.call(arguments, stub: NamespaceStub(simulator: self, namespace: namespace))
    }

    // MARK: - Recording (called by NamespaceStub)

    func checkDeadline() throws(ChaincodeError) {
        stubCalls += 1
        if ContinuousClock.now > context.deadline {
            throw ChaincodeError(.internalError, "chaincode exceeded its execution time limit")
        }
    }

    func getState(_ namespace: String, _ key: String) throws -> [UInt8]? {
        try checkDeadline()
        if let written = writes[namespace]?[key] { return written }
        let committed = try context.reader.get(namespace: namespace, key: key)
        recordRead(namespace, key, committed?.version)
        return committed?.value
    }

    func putState(_ namespace: String, _ key: String, _ value: [UInt8]?) throws {
        try checkDeadline()
        try CompositeKey.checkKey(key)
        writes[namespace, default: [:]][key] = .some(value)
    }

    func range(_ namespace: String, start: String, end: String, pageSize: Int?, bookmark: String?) throws -> QueryPage {
        try checkDeadline()
        if pageSize != nil { usedPaginatedQuery = true }
        let limit = pageSize ?? Limits.rangeQueryPageSizeMax
        let page = try context.reader.range(namespace: namespace, startKey: bookmark ?? start, endKey: end, pageSize: limit)
        if pageSize == nil, page.bookmark != nil {
            throw ChaincodeError(.invalidArgument, "range query returned more than \(Limits.rangeQueryPageSizeMax) keys; use the paginated query")
        }
        var info = Kvrwset_RangeQueryInfo()
        info.startKey = bookmark ?? start
        info.endKey = end
        info.itrExhausted = page.bookmark == nil
        info.rawReads.kvReads = page.entries.map { entry in
            var read = Kvrwset_KVRead()
            read.key = entry.key
            read.version = Self.version(entry.value.version)
            return read
        }
        rangeQueries[namespace, default: []].append(info)
        return QueryPage(entries: page.entries.map { KeyValue(key: $0.key, value: $0.value.value) }, bookmark: page.bookmark)
    }

    func validationParameter(_ namespace: String, _ key: String) throws -> [UInt8]? {
        try checkDeadline()
        if let pending = metadataWrites[namespace]?[key] { return pending[StateMetadataName.validationParameter] }
        let committed = try context.reader.get(namespace: namespace, key: key)
        recordRead(namespace, key, committed?.version)
        return committed?.metadata[StateMetadataName.validationParameter]
    }

    func setValidationParameter(_ namespace: String, _ key: String, _ policy: [UInt8]) throws {
        try checkDeadline()
        try CompositeKey.checkKey(key)
        metadataWrites[namespace, default: [:]][key, default: [:]][StateMetadataName.validationParameter] = policy
    }

    func setEvent(_ namespace: String, name: String, payload: [UInt8]) throws {
        try checkDeadline()
        guard !name.isEmpty else { throw ChaincodeError(.invalidArgument, "event name is empty") }
        var event = Protos_ChaincodeEvent()
        event.chaincodeID = namespace
        event.txID = context.transactionID
        event.eventName = name
        event.payload = Data(payload)
        self.event = event
    }

    func invoke(_ name: String, arguments: [[UInt8]]) throws -> ChaincodeResponse {
        try checkDeadline()
        guard callDepth < Self.invocationDepthMax else {
            throw ChaincodeError(.invalidArgument, "chaincode calls nest deeper than \(Self.invocationDepthMax)")
        }
        guard let router = context.contracts(name) else {
            throw ChaincodeError(.notFound, "chaincode '\(name)' is not defined on channel '\(context.channelID)'")
        }
        callDepth += 1
        defer { callDepth -= 1 }
        return run(router, namespace: name, arguments: arguments)
    }

    private func recordRead(_ namespace: String, _ key: String, _ version: StateVersion?) {
        guard reads[namespace]?[key] == nil else { return }
        reads[namespace, default: [:]][key] = .some(version.map(Self.version))
    }

    private static func version(_ version: StateVersion) -> Kvrwset_Version {
        var result = Kvrwset_Version()
        result.blockNum = version.blockNumber
        result.txNum = UInt64(version.transactionNumber)
        return result
    }

    // MARK: - Result

    var hasWrites: Bool { !writes.isEmpty || !metadataWrites.isEmpty }

    /// The read/write set: namespaces sorted, reads, writes and metadata writes sorted by key,
    /// metadata entries by name; range queries in execution order.
    func readWriteSet() throws -> Rwset_TxReadWriteSet {
        let namespaces = Set(reads.keys).union(writes.keys).union(metadataWrites.keys).union(rangeQueries.keys).sorted()
        var result = Rwset_TxReadWriteSet()
        result.dataModel = .kv
        result.nsRwset = try namespaces.map { namespace in
            var set = Kvrwset_KVRWSet()
            set.reads = (reads[namespace] ?? [:]).sorted { Self.precedes($0.key, $1.key) }.map { key, version in
                var read = Kvrwset_KVRead()
                read.key = key
                if let version { read.version = version }
                return read
            }
            set.rangeQueriesInfo = rangeQueries[namespace] ?? []
            set.writes = (writes[namespace] ?? [:]).sorted { Self.precedes($0.key, $1.key) }.map { key, value in
                var write = Kvrwset_KVWrite()
                write.key = key
                if let value { write.value = Data(value) } else { write.isDelete = true }
                return write
            }
            set.metadataWrites = (metadataWrites[namespace] ?? [:]).sorted { Self.precedes($0.key, $1.key) }.map { key, entries in
                var write = Kvrwset_KVMetadataWrite()
                write.key = key
                write.entries = entries.sorted { Self.precedes($0.key, $1.key) }.map { name, value in
                    var entry = Kvrwset_KVMetadataEntry()
                    entry.name = name
                    entry.value = Data(value)
                    return entry
                }
                return write
            }
            var namespaceSet = Rwset_NsReadWriteSet()
            namespaceSet.namespace = namespace
            namespaceSet.rwset = try set.serializedData()
            return namespaceSet
        }
        return result
    }

    /// UTF-8 byte order, the state database's key order.
    private static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }
}

/// The stub a contract sees: the simulator, scoped to one chaincode's namespace.
final class NamespaceStub: ChaincodeStub {
    let simulator: TransactionSimulator
    let namespace: String

    init(simulator: TransactionSimulator, namespace: String) {
        self.simulator = simulator
        self.namespace = namespace
    }

    var transactionID: String { simulator.context.transactionID }
    var channelID: String { simulator.context.channelID }
    var transactionTimestamp: Date { simulator.context.timestamp }
    var clientIdentity: ClientIdentity { simulator.context.clientIdentity }
    var transient: [String: [UInt8]] { simulator.context.transient }

    func getState(_ key: String) throws -> [UInt8]? { try simulator.getState(namespace, key) }
    func putState(_ key: String, _ value: [UInt8]) throws { try simulator.putState(namespace, key, value) }
    func deleteState(_ key: String) throws { try simulator.putState(namespace, key, nil) }

    func getStateByRange(startKey: String, endKey: String) throws -> [KeyValue] {
        try checkSimpleRange(startKey, endKey)
        return try simulator.range(namespace, start: startKey.isEmpty ? Self.firstSimpleKey : startKey, end: endKey, pageSize: nil, bookmark: nil).entries
    }

    func getStateByRange(startKey: String, endKey: String, pageSize: Int, bookmark: String?) throws -> QueryPage {
        try checkSimpleRange(startKey, endKey)
        try checkPageSize(pageSize)
        return try simulator.range(namespace, start: startKey.isEmpty ? Self.firstSimpleKey : startKey, end: endKey, pageSize: pageSize, bookmark: bookmark)
    }

    func getStateByPartialCompositeKey(objectType: String, attributes: [String]) throws -> [KeyValue] {
        let prefix = try CompositeKey.make(objectType: objectType, attributes: attributes)
        return try simulator.range(namespace, start: prefix, end: prefix + String(CompositeKey.maxCodePoint), pageSize: nil, bookmark: nil).entries
    }

    func getStateByPartialCompositeKey(objectType: String, attributes: [String], pageSize: Int, bookmark: String?) throws -> QueryPage {
        try checkPageSize(pageSize)
        let prefix = try CompositeKey.make(objectType: objectType, attributes: attributes)
        return try simulator.range(namespace, start: prefix, end: prefix + String(CompositeKey.maxCodePoint), pageSize: pageSize, bookmark: bookmark)
    }

    func history(forKey key: String) throws -> [KeyModification] {
        try simulator.checkDeadline()
        return try simulator.context.history(namespace, key)
    }

    func getStateValidationParameter(_ key: String) throws -> [UInt8]? { try simulator.validationParameter(namespace, key) }
    func setStateValidationParameter(_ key: String, _ policy: [UInt8]) throws { try simulator.setValidationParameter(namespace, key, policy) }
    func setEvent(name: String, payload: [UInt8]) throws { try simulator.setEvent(namespace, name: name, payload: payload) }

    func invokeChaincode(_ name: String, arguments: [[UInt8]]) throws -> ChaincodeResponse {
        try simulator.invoke(name, arguments: arguments)
    }

    /// Fabric starts open ranges of simple keys after U+0000, so composite keys stay out.
    static let firstSimpleKey = "\u{1}"

    private func checkSimpleRange(_ startKey: String, _ endKey: String) throws(ChaincodeError) {
        for key in [startKey, endKey] where CompositeKey.isComposite(key) {
            throw ChaincodeError(.invalidKey, "range query bounds must be simple keys; use the partial composite key query")
        }
    }

    private func checkPageSize(_ pageSize: Int) throws(ChaincodeError) {
        guard (1...Limits.rangeQueryPageSizeMax).contains(pageSize) else {
            throw ChaincodeError(.invalidArgument, "page size must be 1...\(Limits.rangeQueryPageSizeMax)")
        }
    }
}
