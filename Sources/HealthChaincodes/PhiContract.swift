import Chaincode

/// `phi`: anchors of off-chain PHI records (DESIGN §1.4). Anchors hold ids, a hash and algorithm
/// ids, no PHI, so any channel member may read them; the `access` contract reads them through
/// `invokeChaincode` with the requester's identity.
///
/// - `anchor ANCHOR_JSON`: `{recordID, version, sha256, patient, custodian, resourceType,
///   labOrg?, cipher, keyWrap}`; adds `anchoredBy`, `anchoredAt` (transaction time), `txID`,
///   `source`, and appends an audit entry (`put`, reason `patient-contributed` or `staff-entered`).
///   Only a client of the custodian MSP with role consulting_doctor, nurse, operator or
///   lab_technician may anchor (a lab technician only Observation / DiagnosticReport of their own
///   `lab_org`). An anchor is never overwritten; version n > 1 needs version n-1 with the same
///   patient and custodian. Returns the stored anchor.
/// - `get RECORD_ID VERSION|latest`: the anchor (404 when absent).
/// - `list PATIENT`: the latest anchor of each of the patient's records, by record id.
/// - `hasCustodian CUSTODIAN PATIENT`: `true` or `false`, whether CUSTODIAN holds a record of
///   PATIENT (used by `vitals` to let a hospital's staff read its patients' readings).
/// - `erase ERASURE_JSON`, `erasure RECORD_ID VERSION`, `history RECORD_ID`, `setRetention
///   RULE_JSON`, `retention CUSTODIAN`, `keyEvent EVENT_JSON`, `keyEvents CUSTODIAN`: erasure,
///   retention and custodian-key entries (`PhiContract+Erasure.swift`).
///
/// A patient (role patient) may anchor records about themself (`patient` is their own person id,
/// the custodian their own organization): such anchors carry `source: patient`, staff anchors
/// `source: staff`, and a record's versions keep the source of its first version.
///
/// Keys: `ANCHOR` [recordID, version as 10 digits] → anchor JSON; `PATIENTREC` [patient,
/// recordID] → recordID and `CUSTODIANPATIENT` [custodian, patient] → patient, written only when
/// absent.
package struct PhiContract: Contract {
    static let anchorType = "ANCHOR"
    static let patientRecordType = "PATIENTREC"
    static let custodianPatientType = "CUSTODIANPATIENT"
    static let anchoringRoles: Set<HealthRole> = [.consultingDoctor, .nurse, .operator, .labTechnician]
    static let labResourceTypes: Set<String> = ["Observation", "DiagnosticReport"]
    /// `PhiAnchor.source` values.
    package static let patientSource = "patient"
    package static let staffSource = "staff"

    package init() {}

    package func register(_ router: inout ContractRouter) {
        router.on("anchor", healthJSON: { context in
            try context.expectArguments(1...1, usage: "anchor ANCHOR_JSON")
            return try Self.anchor(context)
        })
        router.on("get", healthJSON: { context in
            try context.expectArguments(2...2, usage: "get RECORD_ID VERSION|latest")
            let recordID = try HealthArguments.identifier(try context.string(0), "RECORD_ID")
            let version = try HealthArguments.version(try context.string(1), "VERSION", allowLatest: true)
            guard let anchor = try Self.anchor(context.stub, recordID: recordID, version: version) else {
                throw ChaincodeError(.notFound, "record \(recordID) has no anchor\(version.map { " at version \($0)" } ?? "")")
            }
            return anchor
        })
        router.on("list", healthJSON: { context in
            try context.expectArguments(1...1, usage: "list PATIENT")
            let patient = try HealthArguments.personID(try context.string(0), "PATIENT")
            return try context.stub.getStateByPartialCompositeKey(objectType: Self.patientRecordType, attributes: [patient]).compactMap { entry in
                let recordID = try HealthCodec.storedKeyAttribute(context.stub, entry.key, at: 1)
                return try Self.anchor(context.stub, recordID: recordID, version: nil)
            }
        })
        router.on("hasCustodian", healthJSON: { context in
            try context.expectArguments(2...2, usage: "hasCustodian CUSTODIAN PATIENT")
            let custodian = try HealthArguments.mspID(try context.string(0), "CUSTODIAN")
            let patient = try HealthArguments.personID(try context.string(1), "PATIENT")
            return try context.stub.getState(try Self.custodianPatientKey(context.stub, custodian: custodian, patient: patient)) != nil
        })
        registerErasure(&router)
    }

    // MARK: - anchor

    private static func anchor(_ context: TransactionContext) throws -> PhiAnchor {
        let caller = try HealthCaller(context.clientIdentity)
        let request = try HealthCodec.decodeArgument(try context.bytes(0), name: "ANCHOR_JSON", as: PhiAnchorRequest.self)
        try check(request)
        let source = try authorize(caller, request)
        let stub = context.stub
        let key = try anchorKey(stub, recordID: request.recordID, version: request.version)
        guard try stub.getState(key) == nil else {
            throw ChaincodeError(.invalidArgument, "record \(request.recordID) version \(request.version) is already anchored (409: anchors are never overwritten)")
        }
        if request.version > 1 {
            guard let previous = try anchor(stub, recordID: request.recordID, version: request.version - 1) else {
                throw ChaincodeError(.invalidArgument, "record \(request.recordID) version \(request.version) needs version \(request.version - 1) anchored first")
            }
            guard previous.patient == request.patient, previous.custodian == request.custodian else {
                throw ChaincodeError(.invalidArgument, "record \(request.recordID) version \(request.version) must keep the patient and custodian of version \(request.version - 1)")
            }
            guard previous.isPatientContributed == (source == patientSource) else {
                throw ChaincodeError(
                    .accessDenied,
                    "record \(request.recordID) was \(previous.isPatientContributed ? "contributed by the patient" : "entered by staff"); "
                        + "its versions keep that source (invoker role '\(caller.roleName)')")
            }
        }
        let anchor = PhiAnchor(
            recordID: request.recordID, version: request.version, sha256: request.sha256, patient: request.patient,
            custodian: request.custodian, resourceType: request.resourceType, labOrg: request.labOrg, cipher: request.cipher,
            keyWrap: request.keyWrap, anchoredBy: caller.personID, anchoredAt: try HealthTime.string(stub.transactionTimestamp),
            txID: stub.transactionID, source: source)
        try stub.putState(key, try HealthCodec.encode(anchor))
        try putIfAbsent(stub, try stub.createCompositeKey(objectType: patientRecordType, attributes: [anchor.patient, anchor.recordID]), anchor.recordID)
        try putIfAbsent(stub, try custodianPatientKey(stub, custodian: anchor.custodian, patient: anchor.patient), anchor.patient)
        // Audited in the same transaction, saying who entered it: the patient or staff.
        _ = try stub.invokeChaincode(
            AccessContract.auditChaincode,
            arguments: [
                Array("append".utf8),
                try HealthCodec.encode(
                    AuditRequest(
                        patient: anchor.patient, action: "put", recordID: anchor.recordID, version: anchor.version, decision: "granted",
                        reason: source == patientSource ? "patient-contributed" : "staff-entered")),
            ]
        ).payloadOrThrow(callee: AccessContract.auditChaincode)
        return anchor
    }

    private static func check(_ request: PhiAnchorRequest) throws(ChaincodeError) {
        _ = try HealthArguments.identifier(request.recordID, "recordID")
        guard request.version >= 1 else { throw ChaincodeError(.invalidArgument, "version must be at least 1") }
        _ = try HealthArguments.sha256(request.sha256, "sha256")
        _ = try HealthArguments.personID(request.patient, "patient")
        _ = try HealthArguments.mspID(request.custodian, "custodian")
        _ = try HealthArguments.code(request.resourceType, "resourceType", extra: "")
        if let labOrg = request.labOrg { _ = try HealthArguments.mspID(labOrg, "labOrg") }
        _ = try HealthArguments.code(request.cipher, "cipher")
        _ = try HealthArguments.code(request.keyWrap, "keyWrap")
    }

    /// Returns the anchor's source: `patient` or `staff`.
    private static func authorize(_ caller: HealthCaller, _ request: PhiAnchorRequest) throws(ChaincodeError) -> String {
        guard caller.mspID == request.custodian else {
            throw ChaincodeError(.accessDenied, "only a client of the custodian \(request.custodian) may anchor its records (invoker is of \(caller.mspID))")
        }
        if caller.role == .patient {
            guard request.patient == caller.personID else {
                throw ChaincodeError(.accessDenied, "a patient may contribute records only about themself (the anchor's patient is not the invoker)")
            }
            return patientSource
        }
        try caller.require(anchoringRoles.union([.patient]), to: "anchor records")
        guard caller.role == .labTechnician else { return staffSource }
        guard labResourceTypes.contains(request.resourceType) else {
            throw ChaincodeError(.accessDenied, "a lab technician may anchor only Observation and DiagnosticReport records")
        }
        guard let labOrg = request.labOrg, labOrg == caller.identity.attribute("lab_org") else {
            throw ChaincodeError(.accessDenied, "a lab technician may anchor only records whose labOrg is their own lab_org")
        }
        return staffSource
    }

    // MARK: - Keys and reads

    static func anchorKey(_ stub: ChaincodeStub, recordID: String, version: UInt32) throws -> String {
        try stub.createCompositeKey(objectType: anchorType, attributes: [recordID, paddedVersion(version)])
    }

    static func custodianPatientKey(_ stub: ChaincodeStub, custodian: String, patient: String) throws -> String {
        try stub.createCompositeKey(objectType: custodianPatientType, attributes: [custodian, patient])
    }

    /// Zero-padded to 10 digits, so versions sort numerically (UInt32.max has 10 digits).
    static func paddedVersion(_ version: UInt32) -> String {
        let digits = String(version)
        return String(repeating: "0", count: 10 - digits.count) + digits
    }

    /// Version `version` of the record, or its highest version when nil (a partial-key query over
    /// the record's versions, which sort numerically).
    static func anchor(_ stub: ChaincodeStub, recordID: String, version: UInt32?) throws -> PhiAnchor? {
        let bytes: [UInt8]?
        if let version {
            bytes = try stub.getState(try anchorKey(stub, recordID: recordID, version: version))
        } else {
            bytes = try stub.getStateByPartialCompositeKey(objectType: anchorType, attributes: [recordID]).last?.value
        }
        return try bytes.map { bytes throws(ChaincodeError) in try HealthCodec.decodeStored(bytes, as: PhiAnchor.self) }
    }

    private static func putIfAbsent(_ stub: ChaincodeStub, _ key: String, _ value: String) throws {
        guard try stub.getState(key) == nil else { return }
        try stub.putState(key, Array(value.utf8))
    }
}
