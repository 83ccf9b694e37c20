import Chaincode

/// `clinical`: computerized physician order entry. A trainee's order needs a supervisor's
/// co-signature, enforced by a key-level endorsement policy (state-based endorsement) on the order.
///
/// - `createOrder ORDER_ID PATIENT SPECIALTY DETAILS_SHA256`: role consulting_doctor or
///   md_student. The order of a trainee (attribute `is_trainee=true`, or role md_student, which is
///   a trainee whatever the certificate says) is `PENDING_COSIGN`, and its key gets the policy
///   `AND('<MSP>.peer', '<MSP>.client[is_supervisor=true,specialty=<SPECIALTY>]')` (UTF-8 text,
///   the form the block validator parses from `VALIDATION_PARAMETER`). Anyone else's order is
///   `ACTIVE` with no key-level policy. An existing ORDER_ID is refused.
/// - `cosignOrder ORDER_ID`: the invoker needs `is_supervisor=true`, the order's specialty and the
///   order's MSP, and must not be the orderer; `PENDING_COSIGN` becomes `ACTIVE` with `cosignedBy`.
///   This contract checks the invoker only. The write to the order key is then under the key's
///   policy at validation: the transaction needs an endorsement of a peer of the hospital and a
///   co-signature of such a supervisor (a second endorsement, signed by the supervisor over the
///   same proposal response payload, which the submitting client or the peer's gateway adds).
///   The policy stays on the key, so every later change of the order needs a supervisor again.
/// - `getOrder ORDER_ID`, `ordersByPatient PATIENT`: the order(s), for the patient themself and
///   for clinical staff (consulting_doctor, md_student, nurse, operator) of the ordering hospital.
///
/// Keys: `ORDER` [orderID] → `ClinicalOrder`; `ORDERPATIENT` [patient, orderID] → orderID.
package struct ClinicalContract: Contract {
    static let orderType = "ORDER"
    static let patientIndexType = "ORDERPATIENT"
    static let orderingRoles: Set<HealthRole> = [.consultingDoctor, .mdStudent]
    static let readingRoles: Set<HealthRole> = [.consultingDoctor, .mdStudent, .nurse, .operator]

    package init() {}

    /// The key-level policy of a trainee's order.
    package static func cosignPolicy(hospital: String, specialty: String) -> String {
        "AND('\(hospital).peer', '\(hospital).client[is_supervisor=true,specialty=\(specialty)]')"
    }

    package func register(_ router: inout ContractRouter) {
        router.on("createOrder", healthJSON: { context in try Self.createOrder(context) })
        router.on("cosignOrder", healthJSON: { context in try Self.cosignOrder(context) })
        router.on("getOrder", healthJSON: { context in
            try context.expectArguments(1...1, usage: "getOrder ORDER_ID")
            let orderID = try HealthArguments.identifier(try context.string(0), "ORDER_ID")
            let order = try Self.order(context.stub, orderID)
            try Self.authorizeRead(try HealthCaller(context.clientIdentity), order)
            return order
        })
        router.on("ordersByPatient", healthJSON: { context in
            try context.expectArguments(1...1, usage: "ordersByPatient PATIENT")
            let patient = try HealthArguments.personID(try context.string(0), "PATIENT")
            let caller = try HealthCaller(context.clientIdentity)
            let isPatient = caller.role == .patient && caller.personID == patient
            guard isPatient || caller.role.map(Self.readingRoles.contains) == true else {
                throw ChaincodeError(.accessDenied, "only the patient themself or clinical staff may read a patient's orders")
            }
            let orders = try context.stub.getStateByPartialCompositeKey(objectType: Self.patientIndexType, attributes: [patient]).map { entry in
                try Self.order(context.stub, try HealthCodec.storedKeyAttribute(context.stub, entry.key, at: 1))
            }
            return isPatient ? orders : orders.filter { $0.hospital == caller.mspID }
        })
    }

    private static func createOrder(_ context: TransactionContext) throws -> ClinicalOrder {
        try context.expectArguments(4...4, usage: "createOrder ORDER_ID PATIENT SPECIALTY DETAILS_SHA256")
        let orderID = try HealthArguments.identifier(try context.string(0), "ORDER_ID")
        let patient = try HealthArguments.personID(try context.string(1), "PATIENT")
        let specialty = try HealthArguments.code(try context.string(2), "SPECIALTY", extra: "_-")
        let details = try HealthArguments.sha256(try context.string(3), "DETAILS_SHA256")
        let caller = try HealthCaller(context.clientIdentity)
        try caller.require(orderingRoles, to: "create orders")
        let stub = context.stub
        let key = try orderKey(stub, orderID)
        guard try stub.getState(key) == nil else {
            throw ChaincodeError(.invalidArgument, "order \(orderID) already exists")
        }
        let isTrainee = caller.flag("is_trainee") || caller.role == .mdStudent
        let order = ClinicalOrder(
            orderID: orderID, patient: patient, specialty: specialty, detailsSHA256: details, orderedBy: caller.personID,
            hospital: caller.mspID, status: isTrainee ? .pendingCosign : .active, createdAt: try HealthTime.string(stub.transactionTimestamp),
            txID: stub.transactionID, cosignedBy: nil, cosignedAt: nil)
        try stub.putState(key, try HealthCodec.encode(order))
        if isTrainee {
            try stub.setStateValidationParameter(key, Array(cosignPolicy(hospital: caller.mspID, specialty: specialty).utf8))
        }
        try stub.putState(try stub.createCompositeKey(objectType: patientIndexType, attributes: [patient, orderID]), Array(orderID.utf8))
        return order
    }

    private static func cosignOrder(_ context: TransactionContext) throws -> ClinicalOrder {
        try context.expectArguments(1...1, usage: "cosignOrder ORDER_ID")
        let orderID = try HealthArguments.identifier(try context.string(0), "ORDER_ID")
        let caller = try HealthCaller(context.clientIdentity)
        let stub = context.stub
        var order = try order(stub, orderID)
        guard caller.flag("is_supervisor") else {
            throw ChaincodeError(.accessDenied, "only a supervisor (is_supervisor=true) may co-sign orders")
        }
        guard caller.mspID == order.hospital, caller.identity.attribute("specialty") == order.specialty else {
            throw ChaincodeError(.accessDenied, "order \(orderID) needs a supervisor of \(order.hospital) in specialty \(order.specialty)")
        }
        guard caller.personID != order.orderedBy else {
            throw ChaincodeError(.accessDenied, "the orderer may not co-sign their own order")
        }
        guard order.status == .pendingCosign else {
            throw ChaincodeError(.invalidArgument, "order \(orderID) is \(order.status.rawValue), not PENDING_COSIGN")
        }
        order.status = .active
        order.cosignedBy = caller.personID
        order.cosignedAt = try HealthTime.string(stub.transactionTimestamp)
        try stub.putState(try orderKey(stub, orderID), try HealthCodec.encode(order))
        return order
    }

    private static func authorizeRead(_ caller: HealthCaller, _ order: ClinicalOrder) throws(ChaincodeError) {
        if caller.role == .patient, caller.personID == order.patient { return }
        guard let role = caller.role, readingRoles.contains(role), caller.mspID == order.hospital else {
            throw ChaincodeError(.accessDenied, "only the patient themself or clinical staff of the ordering hospital may read an order")
        }
    }

    static func orderKey(_ stub: ChaincodeStub, _ orderID: String) throws -> String {
        try stub.createCompositeKey(objectType: orderType, attributes: [orderID])
    }

    private static func order(_ stub: ChaincodeStub, _ orderID: String) throws -> ClinicalOrder {
        guard let bytes = try stub.getState(try orderKey(stub, orderID)) else {
            throw ChaincodeError(.notFound, "order \(orderID) does not exist")
        }
        return try HealthCodec.decodeStored(bytes, as: ClinicalOrder.self)
    }
}
