import Chaincode

/// `vitals`: append-only traces of device readings.
///
/// - `record PATIENT DEVICE TIMESTAMP READING_SHA256 [RECORD_ID]`: roles nurse,
///   consulting_doctor, operator, with a care relationship to PATIENT (see `byPatient`). TIMESTAMP is any ISO-8601 time `HealthTime.parse` accepts and
///   is stored normalized (UTC, milliseconds). A reading already recorded for the same patient,
///   device and time is refused: readings are never rewritten.
/// - `byPatient PATIENT [DEVICE] [FROM TO]` (1 to 4 arguments: PATIENT; PATIENT DEVICE; PATIENT
///   FROM TO; PATIENT DEVICE FROM TO): readings in device then time order, FROM inclusive, TO
///   exclusive. Allowed for the patient themself, and for a nurse, consulting doctor or operator
///   with a care relationship to the patient at the transaction time (the patient's consent to
///   them or their hospital, an admission to a ward of their hospital, their open emergency
///   session), as the `access` contract's `careRelationship` answers through `invokeChaincode`.
///   Anchoring a record does not make one: any hospital's staff can anchor a record naming any
///   patient.
///
/// Keys: `VITAL` [patient, device, timestamp] → `VitalReading`.
package struct VitalsContract: Contract {
    static let vitalType = "VITAL"
    static let staffRoles: Set<HealthRole> = [.nurse, .consultingDoctor, .operator]
    static let queryResultsMax = 10_000
    static let queryPageSize = 1000

    package init() {}

    package func register(_ router: inout ContractRouter) {
        router.on("record", healthJSON: { context in try Self.record(context) })
        router.on("byPatient", healthJSON: { context in try Self.byPatient(context) })
    }

    private static func record(_ context: TransactionContext) throws -> VitalReading {
        try context.expectArguments(4...5, usage: "record PATIENT DEVICE TIMESTAMP READING_SHA256 [RECORD_ID]")
        let patient = try HealthArguments.personID(try context.string(0), "PATIENT")
        let device = try HealthArguments.identifier(try context.string(1), "DEVICE")
        let timestamp = try HealthArguments.time(try context.string(2), "TIMESTAMP")
        let digest = try HealthArguments.sha256(try context.string(3), "READING_SHA256")
        let recordID = context.arguments.count > 4 ? try HealthArguments.identifier(try context.string(4), "RECORD_ID") : nil
        let caller = try HealthCaller(context.clientIdentity)
        try caller.require(staffRoles, to: "record vitals")
        let stub = context.stub
        try requireCareRelationship(caller, patient: patient, stub: stub, to: "record")
        let key = try stub.createCompositeKey(objectType: vitalType, attributes: [patient, device, timestamp])
        guard try stub.getState(key) == nil else {
            throw ChaincodeError(.invalidArgument, "device \(device) already has a reading at \(timestamp) for this patient (readings are append-only)")
        }
        let reading = VitalReading(
            patient: patient, device: device, timestamp: timestamp, readingSHA256: digest, recordID: recordID,
            recordedBy: caller.personID, txID: stub.transactionID)
        try stub.putState(key, try HealthCodec.encode(reading))
        return reading
    }

    private static func byPatient(_ context: TransactionContext) throws -> [VitalReading] {
        try context.expectArguments(1...4, usage: "byPatient PATIENT [DEVICE] [FROM TO]")
        let patient = try HealthArguments.personID(try context.string(0), "PATIENT")
        let hasDevice = context.arguments.count == 2 || context.arguments.count == 4
        let device = hasDevice ? try HealthArguments.identifier(try context.string(1), "DEVICE") : nil
        var bounds: Range<String>?
        if context.arguments.count >= 3 {
            let first = hasDevice ? 2 : 1
            let from = try HealthArguments.time(try context.string(first), "FROM")
            let to = try HealthArguments.time(try context.string(first + 1), "TO")
            guard from <= to else { throw ChaincodeError(.invalidArgument, "FROM must not be after TO") }
            bounds = from..<to
        }
        try authorizeRead(try HealthCaller(context.clientIdentity), patient: patient, stub: context.stub)
        return try readings(context.stub, prefix: [patient] + (device.map { [$0] } ?? []), bounds: bounds)
    }

    private static func authorizeRead(_ caller: HealthCaller, patient: String, stub: ChaincodeStub) throws {
        if caller.role == .patient, caller.personID == patient { return }
        guard let role = caller.role, staffRoles.contains(role) else {
            throw ChaincodeError(.accessDenied, "only the patient themself or staff with a care relationship to them may read their vitals")
        }
        try requireCareRelationship(caller, patient: patient, stub: stub, to: "read")
    }

    private static func requireCareRelationship(_ caller: HealthCaller, patient: String, stub: ChaincodeStub, to action: String) throws {
        let answer = try stub.invokeChaincode(AccessContract.name, arguments: [Array("careRelationship".utf8), Array(patient.utf8)])
            .payloadOrThrow(callee: AccessContract.name)
        guard try HealthCodec.decodeStored(answer, as: Bool.self) else {
            throw ChaincodeError(
                .accessDenied, "\(caller.personID) has no care relationship with this patient (consent, admission or emergency), so may not \(action) their vitals")
        }
    }

    private static func readings(_ stub: ChaincodeStub, prefix: [String], bounds: Range<String>?) throws -> [VitalReading] {
        var result: [VitalReading] = []
        var bookmark: String?
        repeat {
            let page = try stub.getStateByPartialCompositeKey(objectType: vitalType, attributes: prefix, pageSize: queryPageSize, bookmark: bookmark)
            for entry in page.entries {
                let timestamp = try HealthCodec.storedKeyAttribute(stub, entry.key, at: 2)
                if let bounds, !bounds.contains(timestamp) { continue }
                result.append(try HealthCodec.decodeStored(entry.value, as: VitalReading.self))
                guard result.count <= queryResultsMax else {
                    throw ChaincodeError(.invalidArgument, "more than \(queryResultsMax) readings match; narrow the device or time range")
                }
            }
            bookmark = page.bookmark
        } while bookmark != nil
        return result
    }
}
