import Chaincode

/// `access`: who may read which PHI record, decided on-chain at the transaction time and audited
/// in the same transaction.
///
/// - `grant PATIENT doctor PERSON_ID`, `grant PATIENT hospital MSP_ID`, and `revoke` with the same
///   arguments: only the patient themself (role patient, person id PATIENT). Audited.
/// - `emergency PATIENT REASON_CODE`: role consulting_doctor; opens a 30-minute emergency session
///   for that doctor and patient (a second call renews it). REASON_CODE matches [a-z0-9-]{3,64}.
///   Audited.
/// - `assignWard PATIENT WARD`: role operator; the patient's ward in the operator's hospital.
/// - `request RECORD_ID VERSION|latest`: reads the anchor from `phi`, decides, appends an audit
///   entry (action `read`) for a grant and for a denial alike, and returns an `AccessDecision`
///   with status 200 either way, so a denial commits and stays audited. A missing record is 404.
///
/// - `careRelationship PATIENT`: `true` or `false`, whether the invoker has a care relationship
///   with PATIENT at the transaction time: the patient's consent to the invoker or to the
///   invoker's hospital, an admission to a ward of the invoker's hospital, or the invoker's open
///   emergency session. Used by `vitals` (through `invokeChaincode`, so the invoker is the
///   caller's). Every one of these comes from the patient or from the hospital that admitted
///   them, never from a record anchor, which any hospital's staff can write.
///
/// Keys: `CONSENT` [patient, kind, grantee] → `Consent`; `EMERGENCY` [patient, doctor] →
/// `EmergencySession`; `WARD` [MSP, patient] → `WardAssignment`.
package struct AccessContract: Contract {
    static let consentType = "CONSENT"
    static let emergencyType = "EMERGENCY"
    static let wardType = "WARD"
    static let emergencyDurationMilliseconds: Int64 = 30 * 60 * 1000
    static let phiChaincode = "phi"
    static let auditChaincode = "audit"

    package init() {}

    package func register(_ router: inout ContractRouter) {
        router.on("grant", healthJSON: { context in try Self.changeConsent(context, granting: true) })
        router.on("revoke", healthJSON: { context in try Self.changeConsent(context, granting: false) })
        router.on("emergency", healthJSON: { context in try Self.emergency(context) })
        router.on("assignWard", healthJSON: { context in try Self.assignWard(context) })
        router.on("request", healthJSON: { context in try Self.request(context) })
        router.on("careRelationship", healthJSON: { context in
            try context.expectArguments(1...1, usage: "careRelationship PATIENT")
            let patient = try HealthArguments.personID(try context.string(0), "PATIENT")
            return try Self.careRelationship(try HealthCaller(context.clientIdentity), patient: patient, stub: context.stub) != nil
        })
    }

    /// Why `caller` may treat `patient` now (a reason code), or nil when nothing relates them.
    static func careRelationship(_ caller: HealthCaller, patient: String, stub: ChaincodeStub) throws -> String? {
        if try stub.getState(try wardKey(stub, hospital: caller.mspID, patient: patient)) != nil { return "admitted" }
        let (granted, reason) = try decideDoctor(caller, patient: patient, stub: stub)
        return granted ? reason : nil
    }

    // MARK: - Consent

    private static func changeConsent(_ context: TransactionContext, granting: Bool) throws -> Consent {
        let name = granting ? "grant" : "revoke"
        try context.expectArguments(3...3, usage: "\(name) PATIENT doctor PERSON_ID | \(name) PATIENT hospital MSP_ID")
        let patient = try HealthArguments.personID(try context.string(0), "PATIENT")
        let kind = try context.string(1)
        let grantee: String
        switch kind {
        case "doctor": grantee = try HealthArguments.personID(try context.string(2), "PERSON_ID")
        case "hospital": grantee = try HealthArguments.mspID(try context.string(2), "MSP_ID")
        default: throw ChaincodeError(.invalidArgument, "the consent kind must be 'doctor' or 'hospital'")
        }
        let caller = try HealthCaller(context.clientIdentity)
        guard caller.role == .patient, caller.personID == patient else {
            throw ChaincodeError(.accessDenied, "only the patient themself may \(name) consent to their records")
        }
        let stub = context.stub
        let key = try consentKey(stub, patient: patient, kind: kind, grantee: grantee)
        let consent: Consent
        if granting {
            consent = Consent(patient: patient, kind: kind, grantee: grantee, grantedAt: try HealthTime.string(stub.transactionTimestamp), txID: stub.transactionID)
            try stub.putState(key, try HealthCodec.encode(consent))
        } else {
            guard let bytes = try stub.getState(key) else {
                throw ChaincodeError(.notFound, "patient \(patient) has no \(kind) consent for \(grantee)")
            }
            consent = try HealthCodec.decodeStored(bytes, as: Consent.self)
            try stub.deleteState(key)
        }
        try audit(stub, AuditRequest(
            patient: patient, action: name, grantee: grantee, decision: "granted", reason: "consent-\(kind)"))
        return consent
    }

    static func consentKey(_ stub: ChaincodeStub, patient: String, kind: String, grantee: String) throws -> String {
        try stub.createCompositeKey(objectType: consentType, attributes: [patient, kind, grantee])
    }

    // MARK: - Emergency access and wards

    private static func emergency(_ context: TransactionContext) throws -> EmergencySession {
        try context.expectArguments(2...2, usage: "emergency PATIENT REASON_CODE")
        let patient = try HealthArguments.personID(try context.string(0), "PATIENT")
        let reason = try HealthArguments.code(try context.string(1), "REASON_CODE", lowercaseOnly: true, bytesMin: 3)
        let caller = try HealthCaller(context.clientIdentity)
        try caller.require([.consultingDoctor], to: "open emergency access")
        let stub = context.stub
        let start = try HealthTime.milliseconds(stub.transactionTimestamp)
        let expiry = min(start + emergencyDurationMilliseconds, HealthTime.millisecondsMax)
        let session = EmergencySession(
            patient: patient, doctor: caller.personID, startedAt: HealthTime.string(milliseconds: start),
            expiresAt: HealthTime.string(milliseconds: expiry), reason: reason, txID: stub.transactionID)
        try stub.putState(try emergencyKey(stub, patient: patient, doctor: caller.personID), try HealthCodec.encode(session))
        try audit(stub, AuditRequest(patient: patient, action: "emergency", decision: "granted", reason: reason))
        return session
    }

    static func emergencyKey(_ stub: ChaincodeStub, patient: String, doctor: String) throws -> String {
        try stub.createCompositeKey(objectType: emergencyType, attributes: [patient, doctor])
    }

    private static func assignWard(_ context: TransactionContext) throws -> WardAssignment {
        try context.expectArguments(2...2, usage: "assignWard PATIENT WARD")
        let patient = try HealthArguments.personID(try context.string(0), "PATIENT")
        let ward = try HealthArguments.code(try context.string(1), "WARD", extra: "._-")
        let caller = try HealthCaller(context.clientIdentity)
        try caller.require([.operator], to: "assign wards")
        let stub = context.stub
        let assignment = WardAssignment(
            hospital: caller.mspID, patient: patient, ward: ward, assignedBy: caller.personID,
            assignedAt: try HealthTime.string(stub.transactionTimestamp), txID: stub.transactionID)
        try stub.putState(try wardKey(stub, hospital: caller.mspID, patient: patient), try HealthCodec.encode(assignment))
        return assignment
    }

    static func wardKey(_ stub: ChaincodeStub, hospital: String, patient: String) throws -> String {
        try stub.createCompositeKey(objectType: wardType, attributes: [hospital, patient])
    }

    // MARK: - Requests

    private static func request(_ context: TransactionContext) throws -> AccessDecision {
        try context.expectArguments(2...2, usage: "request RECORD_ID VERSION|latest")
        let recordID = try HealthArguments.identifier(try context.string(0), "RECORD_ID")
        let versionText = try context.string(1)
        _ = try HealthArguments.version(versionText, "VERSION", allowLatest: true)
        let caller = try HealthCaller(context.clientIdentity)
        let stub = context.stub
        let anchorBytes = try stub.invokeChaincode(phiChaincode, arguments: [Array("get".utf8), Array(recordID.utf8), Array(versionText.utf8)])
            .payloadOrThrow(callee: phiChaincode)
        let anchor = try HealthCodec.decodeStored(anchorBytes, as: PhiAnchor.self)
        let (granted, reason) = try decide(caller, anchor: anchor, stub: stub)
        try audit(stub, AuditRequest(
            patient: anchor.patient, action: "read", recordID: anchor.recordID, version: anchor.version,
            decision: granted ? "granted" : "denied", reason: reason))
        return AccessDecision(granted: granted, reason: reason, recordID: anchor.recordID, version: anchor.version, anchor: granted ? anchor : nil)
    }

    /// The access rules (DESIGN §6), evaluated at the transaction time.
    static func decide(_ caller: HealthCaller, anchor: PhiAnchor, stub: ChaincodeStub) throws -> (granted: Bool, reason: String) {
        switch caller.role {
        case .patient:
            return anchor.patient == caller.personID ? (true, "own-record") : (false, "not-own-record")
        case .consultingDoctor:
            return try decideDoctor(caller, patient: anchor.patient, stub: stub)
        case .operator:
            return anchor.custodian == caller.mspID ? (true, "custodian-operator") : (false, "other-custodian")
        case .nurse:
            guard anchor.custodian == caller.mspID else { return (false, "other-custodian") }
            let assigned = try stub.getState(try wardKey(stub, hospital: caller.mspID, patient: anchor.patient))
                .map { bytes throws(ChaincodeError) in try HealthCodec.decodeStored(bytes, as: WardAssignment.self) }
            guard let ward = caller.identity.attribute("ward_assignment"), assigned?.ward == ward else { return (false, "ward-mismatch") }
            return (true, "ward-nurse")
        case .labTechnician:
            guard let lab = caller.identity.attribute("lab_org"), anchor.labOrg == lab else { return (false, "other-lab") }
            guard PhiContract.labResourceTypes.contains(anchor.resourceType) else { return (false, "resource-type") }
            return (true, "lab-result")
        case .auditor, .mdStudent, nil:
            return (false, "role-not-permitted")
        }
    }

    private static func decideDoctor(_ caller: HealthCaller, patient: String, stub: ChaincodeStub) throws -> (granted: Bool, reason: String) {
        if try stub.getState(try consentKey(stub, patient: patient, kind: "doctor", grantee: caller.personID)) != nil {
            return (true, "consent-doctor")
        }
        if try stub.getState(try consentKey(stub, patient: patient, kind: "hospital", grantee: caller.mspID)) != nil {
            return (true, "consent-hospital")
        }
        guard let bytes = try stub.getState(try emergencyKey(stub, patient: patient, doctor: caller.personID)) else {
            return (false, "no-consent")
        }
        let session = try HealthCodec.decodeStored(bytes, as: EmergencySession.self)
        let now = try HealthTime.string(stub.transactionTimestamp)
        guard session.startedAt <= now else { return (false, "no-consent") }
        return now < session.expiresAt ? (true, "emergency") : (false, "emergency-expired")
    }

    /// Appends an audit entry as the invoker, in this transaction.
    private static func audit(_ stub: ChaincodeStub, _ request: AuditRequest) throws {
        _ = try stub.invokeChaincode(auditChaincode, arguments: [Array("append".utf8), try HealthCodec.encode(request)])
            .payloadOrThrow(callee: auditChaincode)
    }
}
