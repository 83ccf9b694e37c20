import BuiltInChaincodes
import Chaincode
import Foundation

@testable import HealthChaincodes

/// An in-memory ledger for the healthcare contracts: committed state per namespace, key-level
/// policies, and transactions that buffer their writes and commit them when the called function
/// succeeds (status below 400), as the real pipeline would. Follows the SDK's stub semantics:
/// reads see the transaction's own writes; range and partial-key queries see committed state;
/// `invokeChaincode` runs another contract in its own namespace, in the same transaction, with
/// the same identity and timestamp.
final class FakeLedger {
    private(set) var state: [String: [String: [UInt8]]] = [:]
    private(set) var validationParameters: [String: [String: [UInt8]]] = [:]
    let contracts: [String: ContractRouter]
    private var transactionCount = 0
    /// The transaction time of the next call; tests move it by hand.
    var now: Date
    /// What the last transaction wrote, by namespace (nil value: a delete), whether or not it
    /// committed.
    private(set) var lastWrites: [String: [String: [UInt8]?]] = [:]

    static let epoch = Date(timeIntervalSince1970: 1_790_064_000)  // 2026-09-22T08:00:00.000Z

    init(now: Date = FakeLedger.epoch) {
        self.now = now
        contracts = [
            "phi": PhiContract().router, "access": AccessContract().router, "audit": AuditContract().router,
            "clinical": ClinicalContract().router, "vitals": VitalsContract().router, "accounts": AccountsContract().router,
        ]
    }

    /// Runs `function` of `chaincode` as `identity` at `now` and commits its writes on success.
    @discardableResult
    func call(_ chaincode: String, _ function: String, _ arguments: [String], as identity: ClientIdentity) -> ChaincodeResponse {
        submit(as: identity) { $0.run(chaincode, [function] + arguments) }
    }

    /// Runs `body` as one transaction and commits its writes when it returns success.
    @discardableResult
    func submit(as identity: ClientIdentity, _ body: (FakeTransaction) -> ChaincodeResponse) -> ChaincodeResponse {
        transactionCount += 1
        let transaction = FakeTransaction(ledger: self, transactionID: "tx" + String(String(1_000_000 + transactionCount).dropFirst()), timestamp: now, identity: identity)
        let response = body(transaction)
        lastWrites = transaction.writes
        if response.isSuccess { commit(transaction) }
        return response
    }

    /// The committed value of a key.
    func value(_ namespace: String, _ key: String) -> [UInt8]? { state[namespace]?[key] }

    func validationParameter(_ namespace: String, _ key: String) -> [UInt8]? { validationParameters[namespace]?[key] }

    /// Committed keys of `namespace` in [start, end), in UTF-8 byte order.
    func committedRange(_ namespace: String, start: String, end: String) -> [KeyValue] {
        (state[namespace] ?? [:])
            .filter { key, _ in !key.utf8.lexicographicallyPrecedes(start.utf8) && (end.isEmpty || key.utf8.lexicographicallyPrecedes(end.utf8)) }
            .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            .map { KeyValue(key: $0.key, value: $0.value) }
    }

    private func commit(_ transaction: FakeTransaction) {
        for (namespace, writes) in transaction.writes {
            for (key, value) in writes {
                state[namespace, default: [:]][key] = value
            }
        }
        for (namespace, parameters) in transaction.metadataWrites {
            for (key, policy) in parameters { validationParameters[namespace, default: [:]][key] = policy }
        }
    }
}

/// One transaction's buffered writes.
final class FakeTransaction {
    unowned let ledger: FakeLedger
    let transactionID: String
    let timestamp: Date
    let identity: ClientIdentity
    var writes: [String: [String: [UInt8]?]] = [:]
    var metadataWrites: [String: [String: [UInt8]]] = [:]
    var depth = 0

    init(ledger: FakeLedger, transactionID: String, timestamp: Date, identity: ClientIdentity) {
        self.ledger = ledger
        self.transactionID = transactionID
        self.timestamp = timestamp
        self.identity = identity
    }

    func run(_ chaincode: String, _ arguments: [String]) -> ChaincodeResponse {
        run(chaincode, arguments.map { Array($0.utf8) })
    }

    func run(_ chaincode: String, _ arguments: [[UInt8]]) -> ChaincodeResponse {
        guard let router = ledger.contracts[chaincode] else {
            return ChaincodeResponse(status: 404, message: "chaincode '\(chaincode)' is not defined")
        }
        return router.call(arguments, stub: FakeStub(transaction: self, namespace: chaincode))
    }
}

/// The stub a contract sees in a `FakeTransaction`, scoped to one namespace.
final class FakeStub: ChaincodeStub {
    let transaction: FakeTransaction
    let namespace: String

    init(transaction: FakeTransaction, namespace: String) {
        self.transaction = transaction
        self.namespace = namespace
    }

    var transactionID: String { transaction.transactionID }
    var channelID: String { "healthchannel" }
    var transactionTimestamp: Date { transaction.timestamp }
    var clientIdentity: ClientIdentity { transaction.identity }
    var transient: [String: [UInt8]] { [:] }

    func getState(_ key: String) throws -> [UInt8]? {
        if let written = transaction.writes[namespace]?[key] { return written }
        return transaction.ledger.value(namespace, key)
    }

    func putState(_ key: String, _ value: [UInt8]) throws {
        try CompositeKey.checkKey(key)
        transaction.writes[namespace, default: [:]][key] = .some(value)
    }

    func deleteState(_ key: String) throws {
        try CompositeKey.checkKey(key)
        transaction.writes[namespace, default: [:]][key] = .some(nil)
    }

    func getStateByRange(startKey: String, endKey: String) throws -> [KeyValue] {
        transaction.ledger.committedRange(namespace, start: startKey.isEmpty ? "\u{1}" : startKey, end: endKey)
    }

    func getStateByRange(startKey: String, endKey: String, pageSize: Int, bookmark: String?) throws -> QueryPage {
        page(transaction.ledger.committedRange(namespace, start: bookmark ?? (startKey.isEmpty ? "\u{1}" : startKey), end: endKey), pageSize)
    }

    func getStateByPartialCompositeKey(objectType: String, attributes: [String]) throws -> [KeyValue] {
        let prefix = try CompositeKey.make(objectType: objectType, attributes: attributes)
        return transaction.ledger.committedRange(namespace, start: prefix, end: prefix + String(CompositeKey.maxCodePoint))
    }

    func getStateByPartialCompositeKey(objectType: String, attributes: [String], pageSize: Int, bookmark: String?) throws -> QueryPage {
        let prefix = try CompositeKey.make(objectType: objectType, attributes: attributes)
        return page(transaction.ledger.committedRange(namespace, start: bookmark ?? prefix, end: prefix + String(CompositeKey.maxCodePoint)), pageSize)
    }

    private func page(_ entries: [KeyValue], _ pageSize: Int) -> QueryPage {
        QueryPage(entries: Array(entries.prefix(pageSize)), bookmark: entries.count > pageSize ? entries[pageSize].key : nil)
    }

    func history(forKey key: String) throws -> [KeyModification] { [] }

    func getStateValidationParameter(_ key: String) throws -> [UInt8]? {
        transaction.metadataWrites[namespace]?[key] ?? transaction.ledger.validationParameter(namespace, key)
    }

    func setStateValidationParameter(_ key: String, _ policy: [UInt8]) throws {
        try CompositeKey.checkKey(key)
        transaction.metadataWrites[namespace, default: [:]][key] = policy
    }

    func setEvent(name: String, payload: [UInt8]) throws {}

    func invokeChaincode(_ name: String, arguments: [[UInt8]]) throws -> ChaincodeResponse {
        guard transaction.depth < 8 else { throw ChaincodeError(.invalidArgument, "chaincode calls nest too deep") }
        transaction.depth += 1
        defer { transaction.depth -= 1 }
        return transaction.run(name, arguments)
    }
}

// MARK: - People

/// A client identity as the endorser builds it from a certificate.
func person(_ commonName: String, _ mspID: String = "HospitalAMSP", role: String?, _ attributes: [String: String] = [:]) -> ClientIdentity {
    var attributes = attributes
    if let role { attributes["role"] = role }
    return ClientIdentity(
        id: "x509::CN=\(commonName),OU=client,O=\(mspID.lowercased()).test::CN=ca.\(mspID.lowercased()).test,O=\(mspID.lowercased()).test",
        mspID: mspID, role: "client", attributes: attributes)
}

extension ChaincodeResponse {
    var text: String { String(decoding: payload, as: UTF8.self) }

    func decoded<Value: Decodable>(_ type: Value.Type = Value.self) throws -> Value {
        try JSONDecoder().decode(Value.self, from: Data(payload))
    }
}

/// A 64-hex-digit digest that differs per `seed`.
func digest(_ seed: Int) -> String {
    let hex = String(seed, radix: 16)
    return String(repeating: "0", count: 64 - hex.count) + hex
}

extension FakeLedger {
    /// Anchors a record as a consulting doctor of `custodian`; returns the response.
    @discardableResult
    func anchor(
        _ recordID: String, version: UInt32 = 1, patient: String, custodian: String = "HospitalAMSP", resourceType: String = "Observation",
        labOrg: String? = nil, as identity: ClientIdentity? = nil
    ) -> ChaincodeResponse {
        var fields: [String: Any] = [
            "recordID": recordID, "version": version, "sha256": digest(Int(version) * 7919 + recordID.count), "patient": patient,
            "custodian": custodian, "resourceType": resourceType, "cipher": "AES-256-GCM", "keyWrap": "ECDH-ES-A256KW",
        ]
        if let labOrg { fields["labOrg"] = labOrg }
        let json = String(decoding: try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self)
        let anchorer = identity ?? person("anchor-bot", custodian, role: "operator")
        return call("phi", "anchor", [json], as: anchorer)
    }

    /// Admits `patient` to `ward` of `hospital`, as an operator of it (`access assignWard`).
    func admit(_ patient: String, to hospital: String = "HospitalAMSP", ward: String = "ward-4") {
        let response = call("access", "assignWard", [patient, ward], as: person("admissions", hospital, role: "operator"))
        precondition(response.status == 200, response.message)
    }
}
