import Chaincode

/// Erasure (crypto-shredding), retention rules and custodian-key entries of the `phi` contract.
///
/// - `erase ERASURE_JSON` `{recordID, version?, reason}`: writes an `ErasureEntry` for the version
///   (every anchored version not yet erased when `version` is absent) and appends an audit entry
///   (`erase`), in this transaction; the custodian's peers destroy the data key and ciphertext
///   once it commits. Allowed to the patient for versions they contributed, to a privacy officer
///   of the custodian (attribute `privacy_officer=true`) for any, and to the custodian's peers for
///   `retention-expired`. A custodian's retention rule refuses an erasure within `keepYears` of
///   the anchor, except for `wrong-patient`, `entered-in-error` and `legal-order`;
///   `retention-expired` needs `eraseAfterYears` to have passed. Returns the entries.
/// - `erasure RECORD_ID VERSION`: the entry (404 when the version is not erased).
/// - `history RECORD_ID`: every version's anchor with its state (`anchored`, `erased`) and entry.
/// - `setRetention RULE_JSON` `{resourceType, keepYears?, eraseAfterYears?}`: the caller's
///   organization's rule for a resource type (privacy officers and admins); `retention CUSTODIAN`
///   lists them.
/// - `keyEvent EVENT_JSON` `{event, keyVersion, count?, firstRecord?, lastRecord?, batchSHA256?}`:
///   an entry of the caller's organization's custodian key (`rotated`, `rewrapped`, `retired`), by
///   its peers, admins or operators; `keyEvents CUSTODIAN` lists them in time order.
///
/// Keys: `ERASURE` [record id, version as 10 digits], `RETENTION` [custodian, resource type],
/// `KEYEVENT` [custodian, time, txID, sequence].
extension PhiContract {
    static let erasureType = "ERASURE"
    static let retentionType = "RETENTION"
    static let keyEventType = "KEYEVENT"
    /// Reason codes of an erasure.
    package static let erasureReasons: Set<String> = [
        "patient-request", "wrong-patient", "entered-in-error", "legal-order", "duplicate", "retention-expired",
    ]
    /// Reasons a retention rule's `keepYears` does not hold against: the record should never have
    /// been kept, or a court says so.
    static let retentionExemptReasons: Set<String> = ["wrong-patient", "entered-in-error", "legal-order"]
    static let keyEvents: Set<String> = ["rotated", "rewrapped", "retired"]
    /// Versions one `erase` may erase.
    static let erasedVersionsMax = 1000

    func registerErasure(_ router: inout ContractRouter) {
        router.on("erase", healthJSON: { context in
            try context.expectArguments(1...1, usage: "erase ERASURE_JSON")
            return try Self.erase(context)
        })
        router.on("erasure", healthJSON: { context in
            try context.expectArguments(2...2, usage: "erasure RECORD_ID VERSION")
            let recordID = try HealthArguments.identifier(try context.string(0), "RECORD_ID")
            let version = try HealthArguments.version(try context.string(1), "VERSION", allowLatest: false) ?? 1
            guard let entry = try Self.erasure(context.stub, recordID: recordID, version: version) else {
                throw ChaincodeError(.notFound, "record \(recordID) version \(version) is not erased")
            }
            return entry
        })
        router.on("history", healthJSON: { context in
            try context.expectArguments(1...1, usage: "history RECORD_ID")
            let recordID = try HealthArguments.identifier(try context.string(0), "RECORD_ID")
            let anchors = try Self.anchors(context.stub, recordID: recordID)
            guard !anchors.isEmpty else { throw ChaincodeError(.notFound, "record \(recordID) has no anchor") }
            return try anchors.map { anchor in
                let erasure = try Self.erasure(context.stub, recordID: recordID, version: anchor.version)
                return RecordVersionHistory(anchor: anchor, erasure: erasure, state: erasure == nil ? "anchored" : "erased")
            }
        })
        router.on("setRetention", healthJSON: { context in
            try context.expectArguments(1...1, usage: "setRetention RULE_JSON")
            return try Self.setRetention(context)
        })
        router.on("retention", healthJSON: { context in
            try context.expectArguments(1...1, usage: "retention CUSTODIAN")
            let custodian = try HealthArguments.mspID(try context.string(0), "CUSTODIAN")
            return try context.stub.getStateByPartialCompositeKey(objectType: Self.retentionType, attributes: [custodian]).map { entry in
                try HealthCodec.decodeStored(entry.value, as: RetentionRule.self)
            }
        })
        router.on("keyEvent", healthJSON: { context in
            try context.expectArguments(1...1, usage: "keyEvent EVENT_JSON")
            return try Self.keyEvent(context)
        })
        router.on("keyEvents", healthJSON: { context in
            try context.expectArguments(1...1, usage: "keyEvents CUSTODIAN")
            let custodian = try HealthArguments.mspID(try context.string(0), "CUSTODIAN")
            return try context.stub.getStateByPartialCompositeKey(objectType: Self.keyEventType, attributes: [custodian]).map { entry in
                try HealthCodec.decodeStored(entry.value, as: KeyEvent.self)
            }
        })
    }

    // MARK: - erase

    private static func erase(_ context: TransactionContext) throws -> [ErasureEntry] {
        let caller = try HealthCaller(context.clientIdentity)
        let request = try HealthCodec.decodeArgument(try context.bytes(0), name: "ERASURE_JSON", as: ErasureRequest.self)
        let recordID = try HealthArguments.identifier(request.recordID, "recordID")
        guard erasureReasons.contains(request.reason) else {
            throw ChaincodeError(.invalidArgument, "reason must be one of \(erasureReasons.sorted().joined(separator: ", "))")
        }
        let stub = context.stub
        var targets: [PhiAnchor]
        if let version = request.version {
            guard version >= 1 else { throw ChaincodeError(.invalidArgument, "version must be at least 1") }
            guard let anchor = try anchor(stub, recordID: recordID, version: version) else {
                throw ChaincodeError(.notFound, "record \(recordID) version \(version) has no anchor")
            }
            guard try erasure(stub, recordID: recordID, version: version) == nil else {
                throw ChaincodeError(.invalidArgument, "record \(recordID) version \(version) is already erased")
            }
            targets = [anchor]
        } else {
            targets = try anchors(stub, recordID: recordID).filter { anchor in try erasure(stub, recordID: recordID, version: anchor.version) == nil }
            guard !targets.isEmpty else { throw ChaincodeError(.notFound, "record \(recordID) has no anchored version left to erase") }
            guard targets.count <= erasedVersionsMax else {
                throw ChaincodeError(.invalidArgument, "record \(recordID) has more than \(erasedVersionsMax) versions; erase them by version")
            }
        }
        let now = try HealthTime.string(stub.transactionTimestamp)
        var entries: [ErasureEntry] = []
        for anchor in targets {
            try authorizeErasure(caller, anchor: anchor, reason: request.reason)
            try checkRetention(stub, anchor: anchor, reason: request.reason, now: now)
            let entry = ErasureEntry(
                recordID: anchor.recordID, version: anchor.version, sha256: anchor.sha256, patient: anchor.patient, custodian: anchor.custodian,
                reason: request.reason, erasedBy: caller.personID, erasedAt: now, txID: stub.transactionID)
            try stub.putState(try erasureKey(stub, recordID: anchor.recordID, version: anchor.version), try HealthCodec.encode(entry))
            _ = try stub.invokeChaincode(
                AccessContract.auditChaincode,
                arguments: [
                    Array("append".utf8),
                    try HealthCodec.encode(
                        AuditRequest(
                            patient: anchor.patient, action: "erase", recordID: anchor.recordID, version: anchor.version, decision: "granted",
                            reason: request.reason)),
                ]
            ).payloadOrThrow(callee: AccessContract.auditChaincode)
            entries.append(entry)
        }
        return entries
    }

    private static func authorizeErasure(_ caller: HealthCaller, anchor: PhiAnchor, reason: String) throws(ChaincodeError) {
        if caller.role == .patient {
            guard caller.personID == anchor.patient else {
                throw ChaincodeError(.accessDenied, "a patient may erase only their own records (record \(anchor.recordID) is another patient's)")
            }
            guard anchor.isPatientContributed else {
                throw ChaincodeError(
                    .accessDenied,
                    "record \(anchor.recordID) version \(anchor.version) was entered by staff; ask the custodian's privacy officer to erase it")
            }
            return
        }
        guard caller.mspID == anchor.custodian else {
            throw ChaincodeError(.accessDenied, "only the custodian \(anchor.custodian) may erase its records (invoker is of \(caller.mspID))")
        }
        if caller.flag("privacy_officer") { return }
        if caller.identity.role == "peer", reason == "retention-expired" { return }
        throw ChaincodeError(
            .accessDenied, "only the patient (for records they contributed) or a privacy officer of \(anchor.custodian) may erase record \(anchor.recordID)")
    }

    private static func checkRetention(_ stub: ChaincodeStub, anchor: PhiAnchor, reason: String, now: String) throws {
        let rule = try stub.getState(try retentionKey(stub, custodian: anchor.custodian, resourceType: anchor.resourceType))
            .map { bytes throws(ChaincodeError) in try HealthCodec.decodeStored(bytes, as: RetentionRule.self) }
        if reason == "retention-expired" {
            guard let years = rule?.eraseAfterYears, let due = HealthTime.adding(years: years, to: anchor.anchoredAt), due <= now else {
                throw ChaincodeError(
                    .invalidArgument,
                    "record \(anchor.recordID) version \(anchor.version) is not past an erase-by date of \(anchor.custodian)'s \(anchor.resourceType) retention rule")
            }
            return
        }
        guard let years = rule?.keepYears, !retentionExemptReasons.contains(reason) else { return }
        guard let kept = HealthTime.adding(years: years, to: anchor.anchoredAt), kept <= now else {
            throw ChaincodeError(
                .accessDenied,
                "record \(anchor.recordID) version \(anchor.version) must be kept \(years) years after it was anchored "
                    + "(\(anchor.custodian)'s \(anchor.resourceType) retention rule); only \(retentionExemptReasons.sorted().joined(separator: ", ")) erase it sooner")
        }
    }

    // MARK: - Retention rules

    private static func setRetention(_ context: TransactionContext) throws -> RetentionRule {
        let caller = try HealthCaller(context.clientIdentity)
        guard caller.flag("privacy_officer") || caller.identity.role == "admin" else {
            throw ChaincodeError(.accessDenied, "only a privacy officer or an admin of \(caller.mspID) may set its retention rules")
        }
        let request = try HealthCodec.decodeArgument(try context.bytes(0), name: "RULE_JSON", as: RetentionRequest.self)
        let resourceType = try HealthArguments.code(request.resourceType, "resourceType", extra: "")
        for years in [request.keepYears, request.eraseAfterYears].compactMap({ $0 }) where !(1...200).contains(years) {
            throw ChaincodeError(.invalidArgument, "retention years must be 1...200, not \(years)")
        }
        if let keep = request.keepYears, let eraseAfter = request.eraseAfterYears, eraseAfter < keep {
            throw ChaincodeError(.invalidArgument, "eraseAfterYears must not be shorter than keepYears")
        }
        let rule = RetentionRule(
            custodian: caller.mspID, resourceType: resourceType, keepYears: request.keepYears, eraseAfterYears: request.eraseAfterYears,
            setBy: caller.personID, setAt: try HealthTime.string(context.stub.transactionTimestamp), txID: context.stub.transactionID)
        try context.stub.putState(try retentionKey(context.stub, custodian: caller.mspID, resourceType: resourceType), try HealthCodec.encode(rule))
        return rule
    }

    // MARK: - Key events

    private static func keyEvent(_ context: TransactionContext) throws -> KeyEvent {
        let caller = try HealthCaller(context.clientIdentity)
        guard caller.identity.role == "peer" || caller.identity.role == "admin" || caller.role == .operator else {
            throw ChaincodeError(.accessDenied, "only a peer, an admin or an operator of \(caller.mspID) may record its custodian key events")
        }
        let request = try HealthCodec.decodeArgument(try context.bytes(0), name: "EVENT_JSON", as: KeyEventRequest.self)
        guard keyEvents.contains(request.event) else {
            throw ChaincodeError(.invalidArgument, "event must be one of \(keyEvents.sorted().joined(separator: ", "))")
        }
        guard request.keyVersion >= 1 else { throw ChaincodeError(.invalidArgument, "keyVersion must be at least 1") }
        if let first = request.firstRecord { _ = try HealthArguments.identifier(first, "firstRecord") }
        if let last = request.lastRecord { _ = try HealthArguments.identifier(last, "lastRecord") }
        if let digest = request.batchSHA256 { _ = try HealthArguments.sha256(digest, "batchSHA256") }
        let stub = context.stub
        let time = try HealthTime.string(stub.transactionTimestamp)
        let key = try stub.createCompositeKey(objectType: keyEventType, attributes: [caller.mspID, time, stub.transactionID])
        guard try stub.getState(key) == nil else { throw ChaincodeError(.invalidArgument, "one key event per transaction") }
        let event = KeyEvent(
            custodian: caller.mspID, event: request.event, keyVersion: request.keyVersion, count: request.count, firstRecord: request.firstRecord,
            lastRecord: request.lastRecord, batchSHA256: request.batchSHA256, actor: caller.personID, time: time, txID: stub.transactionID)
        try stub.putState(key, try HealthCodec.encode(event))
        return event
    }

    // MARK: - Keys and reads

    static func erasureKey(_ stub: ChaincodeStub, recordID: String, version: UInt32) throws -> String {
        try stub.createCompositeKey(objectType: erasureType, attributes: [recordID, paddedVersion(version)])
    }

    static func retentionKey(_ stub: ChaincodeStub, custodian: String, resourceType: String) throws -> String {
        try stub.createCompositeKey(objectType: retentionType, attributes: [custodian, resourceType])
    }

    static func erasure(_ stub: ChaincodeStub, recordID: String, version: UInt32) throws -> ErasureEntry? {
        try stub.getState(try erasureKey(stub, recordID: recordID, version: version)).map { bytes throws(ChaincodeError) in
            try HealthCodec.decodeStored(bytes, as: ErasureEntry.self)
        }
    }

    /// Every anchored version of the record, lowest first.
    static func anchors(_ stub: ChaincodeStub, recordID: String) throws -> [PhiAnchor] {
        try stub.getStateByPartialCompositeKey(objectType: anchorType, attributes: [recordID]).map { entry in
            try HealthCodec.decodeStored(entry.value, as: PhiAnchor.self)
        }
    }
}

extension HealthTime {
    /// `time` (the fixed-width form) plus `years` calendar years, 29 February becoming 28 February
    /// in a common year; nil past year 9999 or for a malformed time.
    package static func adding(years: UInt32, to time: String) -> String? {
        guard let milliseconds = parse(time) else { return nil }
        let (days, dayMilliseconds) = (milliseconds.quotientAndRemainder(dividingBy: 86_400_000))
        let (wholeDays, rest) = dayMilliseconds < 0 ? (days - 1, dayMilliseconds + 86_400_000) : (days, dayMilliseconds)
        let (year, month, day) = civilDate(daysSinceEpoch: wholeDays)
        let newYear = year + Int64(years)
        guard newYear <= 9999 else { return nil }
        let leap = newYear % 4 == 0 && (newYear % 100 != 0 || newYear % 400 == 0)
        let newDay = month == 2 && day == 29 && !leap ? 28 : day
        return string(milliseconds: daysSinceEpoch(year: newYear, month: month, day: newDay) * 86_400_000 + rest)
    }
}
