import Chaincode

/// `audit`: the append-only audit trail. Other contracts append through `invokeChaincode`, so the
/// entry is written in the same transaction as what it records (and a denial, which commits with
/// status 200, stays audited).
///
/// - `append ENTRY_JSON`: `{patient, action, recordID?, version?, grantee?, decision, reason}`.
///   The actor is always the invoker's person id (never an argument, so nobody writes an entry in
///   another's name); time is the transaction time. Returns the stored entry. Anyone may append,
///   but only as themselves.
/// - `byPatient PATIENT [FROM TO]`, `byActor ACTOR [FROM TO]`, `byTime FROM TO`: entries in time
///   order, FROM inclusive and TO exclusive (ISO-8601). Role auditor may query everything; a
///   patient only `byPatient` of themself; anyone else gets 403.
///
/// Keys, never rewritten: `AUDIT` [patient, time, txID, sequence] → entry JSON, and the indexes
/// `AUDITACTOR` [actor, time, txID, sequence] and `AUDITTIME` [time, txID, sequence] → the
/// primary key. `sequence` (4 digits) numbers the entries of one transaction, so a transaction
/// may append several entries, even for one patient, without two sharing a key; the next number
/// is found by reading the transaction's own `AUDITTIME` writes.
///
/// Queries scan the patient's, actor's or whole log with paginated partial-key queries and keep
/// the entries inside [FROM, TO); they are read-only (a paginated query in a writing transaction
/// is refused at endorsement).
package struct AuditContract: Contract {
    static let entryType = "AUDIT"
    static let actorIndexType = "AUDITACTOR"
    static let timeIndexType = "AUDITTIME"
    /// Entries one transaction may append.
    static let entriesPerTransactionMax: UInt32 = 1000
    /// Entries one query returns; a longer answer is refused (narrow the time range).
    static let queryResultsMax = 10_000
    static let queryPageSize = 1000
    static let decisions: Set<String> = ["granted", "denied"]

    package init() {}

    package func register(_ router: inout ContractRouter) {
        router.on("append", healthJSON: { context in
            try context.expectArguments(1...1, usage: "append ENTRY_JSON")
            let caller = try HealthCaller(context.clientIdentity)
            let request = try HealthCodec.decodeArgument(try context.bytes(0), name: "ENTRY_JSON", as: AuditRequest.self)
            return try Self.append(request, by: caller, stub: context.stub)
        })
        router.on("byPatient", healthJSON: { context in
            try context.expectArguments([1, 3], usage: "byPatient PATIENT [FROM TO]")
            let patient = try HealthArguments.personID(try context.string(0), "PATIENT")
            let caller = try HealthCaller(context.clientIdentity)
            guard caller.role == .auditor || (caller.role == .patient && caller.personID == patient) else {
                throw ChaincodeError(.accessDenied, "only an auditor, or the patient themself, may read a patient's audit trail")
            }
            let bounds = try Self.bounds(context, from: 1)
            return try Self.entries(context.stub, type: Self.entryType, prefix: [patient], timeIndex: 1, bounds: bounds, isIndex: false)
        })
        router.on("byActor", healthJSON: { context in
            try context.expectArguments([1, 3], usage: "byActor ACTOR [FROM TO]")
            let actor = try HealthArguments.personID(try context.string(0), "ACTOR")
            try Self.requireAuditor(context)
            let bounds = try Self.bounds(context, from: 1)
            return try Self.entries(context.stub, type: Self.actorIndexType, prefix: [actor], timeIndex: 1, bounds: bounds, isIndex: true)
        })
        router.on("byTime", healthJSON: { context in
            try context.expectArguments(2...2, usage: "byTime FROM TO")
            try Self.requireAuditor(context)
            let bounds = try Self.bounds(context, from: 0)
            return try Self.entries(context.stub, type: Self.timeIndexType, prefix: [], timeIndex: 0, bounds: bounds, isIndex: true)
        })
    }

    // MARK: - append

    /// Appends `request` as `caller`'s entry at the transaction time.
    static func append(_ request: AuditRequest, by caller: HealthCaller, stub: ChaincodeStub) throws -> AuditEntry {
        try check(request)
        let time = try HealthTime.string(stub.transactionTimestamp)
        let sequence = try nextSequence(stub, time: time)
        let entry = AuditEntry(
            patient: request.patient, action: request.action, recordID: request.recordID, version: request.version,
            grantee: request.grantee, decision: request.decision, reason: request.reason, actor: caller.personID, time: time,
            txID: stub.transactionID, sequence: sequence)
        let suffix = [time, stub.transactionID, paddedSequence(sequence)]
        let primary = try stub.createCompositeKey(objectType: entryType, attributes: [entry.patient] + suffix)
        try stub.putState(primary, try HealthCodec.encode(entry))
        try stub.putState(try stub.createCompositeKey(objectType: actorIndexType, attributes: [entry.actor] + suffix), Array(primary.utf8))
        try stub.putState(try stub.createCompositeKey(objectType: timeIndexType, attributes: suffix), Array(primary.utf8))
        return entry
    }

    private static func check(_ request: AuditRequest) throws(ChaincodeError) {
        _ = try HealthArguments.personID(request.patient, "patient")
        _ = try HealthArguments.code(request.action, "action", lowercaseOnly: true)
        if let recordID = request.recordID { _ = try HealthArguments.identifier(recordID, "recordID") }
        if request.version == 0 { throw ChaincodeError(.invalidArgument, "version must be at least 1") }
        if let grantee = request.grantee {
            if grantee.contains("/") { _ = try HealthArguments.personID(grantee, "grantee") } else { _ = try HealthArguments.mspID(grantee, "grantee") }
        }
        guard decisions.contains(request.decision) else {
            throw ChaincodeError(.invalidArgument, "decision must be 'granted' or 'denied'")
        }
        _ = try HealthArguments.code(request.reason, "reason", lowercaseOnly: true)
    }

    /// The first sequence number this transaction has not used: probes its own `AUDITTIME` writes
    /// (read-your-own-writes; an unwritten key reads as absent, as it is in committed state).
    private static func nextSequence(_ stub: ChaincodeStub, time: String) throws -> UInt32 {
        var sequence: UInt32 = 0
        while try stub.getState(try stub.createCompositeKey(objectType: timeIndexType, attributes: [time, stub.transactionID, paddedSequence(sequence)])) != nil {
            sequence += 1
            guard sequence < entriesPerTransactionMax else {
                throw ChaincodeError(.invalidArgument, "a transaction may append at most \(entriesPerTransactionMax) audit entries")
            }
        }
        return sequence
    }

    static func paddedSequence(_ sequence: UInt32) -> String {
        let digits = String(sequence)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    // MARK: - Queries

    private static func requireAuditor(_ context: TransactionContext) throws {
        let caller = try HealthCaller(context.clientIdentity)
        guard caller.role == .auditor else {
            throw ChaincodeError(.accessDenied, "only an auditor may query the audit trail by actor or by time")
        }
    }

    /// [FROM, TO) from arguments `index` and `index + 1`, when given.
    private static func bounds(_ context: TransactionContext, from index: Int) throws(ChaincodeError) -> Range<String>? {
        guard context.arguments.count > index else { return nil }
        let from = try HealthArguments.time(try context.string(index), "FROM")
        let to = try HealthArguments.time(try context.string(index + 1), "TO")
        guard from <= to else { throw ChaincodeError(.invalidArgument, "FROM must not be after TO") }
        return from..<to
    }

    /// Entries under `type` [prefix...] whose time attribute (at `timeIndex`) is inside `bounds`,
    /// in key order (time order within the prefix). Index keys hold the primary key.
    private static func entries(
        _ stub: ChaincodeStub, type: String, prefix: [String], timeIndex: Int, bounds: Range<String>?, isIndex: Bool
    ) throws -> [AuditEntry] {
        var result: [AuditEntry] = []
        var bookmark: String?
        repeat {
            let page = try stub.getStateByPartialCompositeKey(objectType: type, attributes: prefix, pageSize: queryPageSize, bookmark: bookmark)
            for item in page.entries {
                let time = try HealthCodec.storedKeyAttribute(stub, item.key, at: timeIndex)
                if let bounds {
                    if time >= bounds.upperBound { return result }
                    if time < bounds.lowerBound { continue }
                }
                let bytes = isIndex ? try stub.getState(String(decoding: item.value, as: UTF8.self)) : item.value
                guard let bytes else { throw ChaincodeError(.internalError, "an audit index key points at no entry") }
                result.append(try HealthCodec.decodeStored(bytes, as: AuditEntry.self))
                guard result.count <= queryResultsMax else {
                    throw ChaincodeError(.invalidArgument, "more than \(queryResultsMax) audit entries match; narrow the time range")
                }
            }
            bookmark = page.bookmark
        } while bookmark != nil
        return result
    }
}

extension TransactionContext {
    /// Refuses a call whose argument count is not one of `allowed`.
    func expectArguments(_ allowed: Set<Int>, usage: String) throws(ChaincodeError) {
        guard allowed.contains(arguments.count) else { throw ChaincodeError(.invalidArgument, "expected \(usage)") }
    }
}
