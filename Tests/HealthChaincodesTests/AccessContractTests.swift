import Chaincode
import Foundation
import Testing

@testable import HealthChaincodes

@Suite struct AccessContractTests {
    let patient = "HospitalAMSP/pat-ana"
    let anaIdentity = person("pat-ana", role: "patient")

    /// A ledger with one Observation of Ana held by HospitalA, produced by LabNorth.
    func ledger() -> FakeLedger {
        let ledger = FakeLedger()
        #expect(ledger.anchor("rec-1", patient: patient, custodian: "HospitalAMSP", resourceType: "Observation", labOrg: "LabNorth").status == 200)
        #expect(ledger.anchor("note-1", patient: patient, custodian: "HospitalAMSP", resourceType: "ClinicalNote").status == 200)
        return ledger
    }

    func decision(_ ledger: FakeLedger, _ identity: ClientIdentity, record: String = "rec-1", version: String = "latest",
                  sourceLocation: SourceLocation = #_sourceLocation) throws -> AccessDecision {
        let response = ledger.call("access", "request", [record, version], as: identity)
        #expect(response.status == 200, "\(response.message)", sourceLocation: sourceLocation)
        return try response.decoded(AccessDecision.self)
    }

    func expect(_ ledger: FakeLedger, _ identity: ClientIdentity, granted: Bool, _ reason: String, record: String = "rec-1",
                sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try decision(ledger, identity, record: record, sourceLocation: sourceLocation)
        #expect(result.granted == granted, "\(result.reason)", sourceLocation: sourceLocation)
        #expect(result.reason == reason, sourceLocation: sourceLocation)
        #expect((result.anchor != nil) == granted, sourceLocation: sourceLocation)
    }

    @Test func patients() throws {
        let ledger = ledger()
        try expect(ledger, anaIdentity, granted: true, "own-record")
        try expect(ledger, person("pat-ben", role: "patient"), granted: false, "not-own-record")
        // Same common name, another hospital: another person.
        try expect(ledger, person("pat-ana", "HospitalBMSP", role: "patient"), granted: false, "not-own-record")
    }

    @Test func doctorsNeedConsentOrEmergency() throws {
        let ledger = ledger()
        let carter = person("dr-carter", role: "consulting_doctor")
        let bell = person("dr-bell", "HospitalBMSP", role: "consulting_doctor")
        try expect(ledger, carter, granted: false, "no-consent")
        #expect(ledger.call("access", "grant", [patient, "doctor", "HospitalAMSP/dr-carter"], as: anaIdentity).status == 200)
        try expect(ledger, carter, granted: true, "consent-doctor")
        try expect(ledger, bell, granted: false, "no-consent")
        #expect(ledger.call("access", "grant", [patient, "hospital", "HospitalBMSP"], as: anaIdentity).status == 200)
        try expect(ledger, bell, granted: true, "consent-hospital")
        try expect(ledger, person("dr-other", "HospitalCMSP", role: "consulting_doctor"), granted: false, "no-consent")
    }

    @Test func operatorsReachTheirOwnHospitalOnly() throws {
        let ledger = ledger()
        try expect(ledger, person("op-a", role: "operator"), granted: true, "custodian-operator")
        try expect(ledger, person("op-b", "HospitalBMSP", role: "operator"), granted: false, "other-custodian")
    }

    @Test func nursesNeedTheWardAndTheHospital() throws {
        let ledger = ledger()
        let nurse = person("nurse-kim", role: "nurse", ["ward_assignment": "cardio-3"])
        try expect(ledger, nurse, granted: false, "ward-mismatch")
        #expect(ledger.call("access", "assignWard", [patient, "cardio-3"], as: person("op-a", role: "operator")).status == 200)
        try expect(ledger, nurse, granted: true, "ward-nurse")
        try expect(ledger, person("nurse-lee", role: "nurse", ["ward_assignment": "onco-1"]), granted: false, "ward-mismatch")
        try expect(ledger, person("nurse-no-ward", role: "nurse"), granted: false, "ward-mismatch")
        // Same ward name in another hospital: other custodian.
        try expect(ledger, person("nurse-b", "HospitalBMSP", role: "nurse", ["ward_assignment": "cardio-3"]), granted: false, "other-custodian")
        // Another hospital's ward assignment does not count for HospitalA's records.
        #expect(ledger.call("access", "assignWard", [patient, "onco-1"], as: person("op-b", "HospitalBMSP", role: "operator")).status == 200)
        try expect(ledger, person("nurse-lee", role: "nurse", ["ward_assignment": "onco-1"]), granted: false, "ward-mismatch")
        // Only operators assign wards.
        #expect(ledger.call("access", "assignWard", [patient, "onco-1"], as: nurse).status == 403)
    }

    @Test func labTechniciansSeeTheirLabsResults() throws {
        let ledger = ledger()
        try expect(ledger, person("tech-n", "LabNorthMSP", role: "lab_technician", ["lab_org": "LabNorth"]), granted: true, "lab-result")
        try expect(ledger, person("tech-s", "LabSouthMSP", role: "lab_technician", ["lab_org": "LabSouth"]), granted: false, "other-lab")
        try expect(ledger, person("tech-x", role: "lab_technician"), granted: false, "other-lab")
    }

    @Test func everyoneElseIsDenied() throws {
        let ledger = ledger()
        for role in ["auditor", "md_student", "janitor", nil] {
            try expect(ledger, person("someone", role: role), granted: false, "role-not-permitted")
        }
    }

    @Test func emergencyAccessLastsThirtyMinutesOfTransactionTime() throws {
        let ledger = ledger()
        let carter = person("dr-carter", role: "consulting_doctor")
        let opened = ledger.call("access", "emergency", [patient, "cardiac-arrest"], as: carter)
        #expect(opened.status == 200, "\(opened.message)")
        let session = try opened.decoded(EmergencySession.self)
        #expect(session.startedAt == "2026-09-22T08:00:00.000Z")
        #expect(session.expiresAt == "2026-09-22T08:30:00.000Z")
        #expect(session.doctor == "HospitalAMSP/dr-carter")

        try expect(ledger, carter, granted: true, "emergency")
        ledger.now = FakeLedger.epoch.addingTimeInterval(29 * 60)
        try expect(ledger, carter, granted: true, "emergency")
        ledger.now = FakeLedger.epoch.addingTimeInterval(30 * 60 - 0.001)
        try expect(ledger, carter, granted: true, "emergency")
        ledger.now = FakeLedger.epoch.addingTimeInterval(30 * 60)
        try expect(ledger, carter, granted: false, "emergency-expired")
        ledger.now = FakeLedger.epoch.addingTimeInterval(31 * 60)
        try expect(ledger, carter, granted: false, "emergency-expired")
        // A transaction timestamped before the session started does not use it.
        ledger.now = FakeLedger.epoch.addingTimeInterval(-60)
        try expect(ledger, carter, granted: false, "no-consent")
        // The session is the doctor's own.
        ledger.now = FakeLedger.epoch.addingTimeInterval(60)
        try expect(ledger, person("dr-bell", role: "consulting_doctor"), granted: false, "no-consent")
    }

    @Test func emergencyIsForDoctorsWithAReasonCode() {
        let ledger = ledger()
        let carter = person("dr-carter", role: "consulting_doctor")
        #expect(ledger.call("access", "emergency", [patient, "cardiac-arrest"], as: person("nurse", role: "nurse")).status == 403)
        for reason in ["ab", "Cardiac", "patient fell down the stairs", String(repeating: "a", count: 65)] {
            let response = ledger.call("access", "emergency", [patient, reason], as: carter)
            #expect(response.status == 400)
            #expect(!response.message.contains(reason))
        }
    }

    @Test func consentGrantThenRevoke() throws {
        let ledger = ledger()
        let carter = person("dr-carter", role: "consulting_doctor")
        let grant = ledger.call("access", "grant", [patient, "doctor", "HospitalAMSP/dr-carter"], as: anaIdentity)
        #expect(grant.status == 200)
        #expect(try grant.decoded(Consent.self).grantedAt == "2026-09-22T08:00:00.000Z")
        #expect(ledger.value("access", try CompositeKey.make(objectType: "CONSENT", attributes: [patient, "doctor", "HospitalAMSP/dr-carter"])) != nil)
        try expect(ledger, carter, granted: true, "consent-doctor")
        #expect(ledger.call("access", "revoke", [patient, "doctor", "HospitalAMSP/dr-carter"], as: anaIdentity).status == 200)
        #expect(ledger.value("access", try CompositeKey.make(objectType: "CONSENT", attributes: [patient, "doctor", "HospitalAMSP/dr-carter"])) == nil)
        try expect(ledger, carter, granted: false, "no-consent")
        #expect(ledger.call("access", "revoke", [patient, "doctor", "HospitalAMSP/dr-carter"], as: anaIdentity).status == 404)

        let auditor = person("aud", "RegulatorMSP", role: "auditor")
        let trail = try ledger.call("audit", "byPatient", [patient], as: auditor).decoded([AuditEntry].self)
        #expect(trail.filter { $0.action != "read" && $0.action != "put" }.map(\.action) == ["grant", "revoke"])
        #expect(trail.first { $0.action == "grant" }?.grantee == "HospitalAMSP/dr-carter")
    }

    @Test func onlyThePatientThemselfGrants() {
        let ledger = ledger()
        for identity in [person("pat-ben", role: "patient"), person("pat-ana", "HospitalBMSP", role: "patient"), person("pat-ana", role: "operator")] {
            let response = ledger.call("access", "grant", [patient, "doctor", "HospitalAMSP/dr-carter"], as: identity)
            #expect(response.status == 403)
        }
        #expect(ledger.call("access", "grant", [patient, "friend", "HospitalAMSP/dr-carter"], as: anaIdentity).status == 400)
        #expect(ledger.call("access", "grant", [patient, "hospital", "Hospital A"], as: anaIdentity).status == 400)
        #expect(ledger.call("access", "grant", [patient, "doctor"], as: anaIdentity).status == 400)
    }

    @Test func bothGrantsAndDenialsAreAuditedInTheSameTransaction() throws {
        let ledger = ledger()
        let carter = person("dr-carter", role: "consulting_doctor")
        try expect(ledger, carter, granted: false, "no-consent")
        #expect(ledger.lastWrites.keys.sorted() == ["audit"], "the denial commits its audit entry")
        try expect(ledger, anaIdentity, granted: true, "own-record")
        #expect(ledger.lastWrites["audit"]?.count == 3, "an entry and its two index keys")

        let auditor = person("aud", "RegulatorMSP", role: "auditor")
        // The record's anchors are audited too (`put`); here the reads are the subject.
        let trail = try ledger.call("audit", "byPatient", [patient], as: auditor).decoded([AuditEntry].self).filter { $0.action != "put" }
        #expect(trail.map(\.decision) == ["denied", "granted"])
        #expect(trail.map(\.actor) == ["HospitalAMSP/dr-carter", "HospitalAMSP/pat-ana"])
        #expect(trail.map(\.reason) == ["no-consent", "own-record"])
        #expect(trail.allSatisfy { $0.action == "read" && $0.recordID == "rec-1" && $0.version == 1 })
        #expect(trail.map(\.txID) == ["tx000003", "tx000004"])

        // The patient reads their own trail; nobody else but an auditor does.
        #expect(try ledger.call("audit", "byPatient", [patient], as: anaIdentity).decoded([AuditEntry].self).filter { $0.action != "put" } == trail)
        for identity in [carter, person("pat-ben", role: "patient"), person("op", role: "operator"), person("pat-ana", role: "nurse")] {
            #expect(ledger.call("audit", "byPatient", [patient], as: identity).status == 403)
        }
        #expect(ledger.call("audit", "byActor", ["HospitalAMSP/pat-ana"], as: anaIdentity).status == 403)
    }

    @Test func aMissingRecordIsNotFoundAndNotAudited() {
        let ledger = ledger()
        let response = ledger.call("access", "request", ["rec-404", "latest"], as: anaIdentity)
        #expect(response.status == 404)
        #expect(ledger.lastWrites["audit"] == nil)
        #expect(ledger.call("access", "request", ["rec-1", "7"], as: anaIdentity).status == 404)
        #expect(ledger.call("access", "request", ["rec-1"], as: anaIdentity).status == 400)
    }

    @Test func requestsASpecificVersion() throws {
        let ledger = ledger()
        #expect(ledger.anchor("rec-1", version: 2, patient: patient, labOrg: "LabNorth").status == 200)
        #expect(try decision(ledger, anaIdentity, version: "1").version == 1)
        #expect(try decision(ledger, anaIdentity, version: "latest").version == 2)
    }

    /// Several hospitals, random people in random roles, random records and consents: no
    /// operator is ever granted a record whose custodian is another hospital, and every request
    /// leaves exactly one audit entry.
    @Test func noOperatorReachesAnotherHospitalsRecords() throws {
        var generator = SeededGenerator(seed: 20_260_922)
        let hospitals = ["HospitalAMSP", "HospitalBMSP", "HospitalCMSP"]
        let roles = HealthRole.allCases.map(\.rawValue) + ["janitor"]
        let ledger = FakeLedger()
        let patients = (0..<6).map { "\(hospitals[$0 % 3])/pat-\($0)" }
        var records: [(id: String, custodian: String)] = []
        for index in 0..<30 {
            let custodian = hospitals.randomElement(using: &generator)!
            let id = "rec-\(index)"
            let response = ledger.anchor(id, patient: patients.randomElement(using: &generator)!, custodian: custodian,
                                         resourceType: ["Observation", "ClinicalNote"].randomElement(using: &generator)!, labOrg: "LabNorth")
            #expect(response.status == 200)
            records.append((id, custodian))
        }
        for patient in patients {
            let owner = person(String(patient.split(separator: "/")[1]), String(patient.split(separator: "/")[0]), role: "patient")
            ledger.call("access", "grant", [patient, "hospital", hospitals.randomElement(using: &generator)!], as: owner)
        }
        var operatorRequests = 0
        for index in 0..<400 {
            let hospital = hospitals.randomElement(using: &generator)!
            let role = roles.randomElement(using: &generator)!
            let identity = person("person-\(index % 17)", hospital, role: role, ["ward_assignment": "w1", "lab_org": "LabNorth"])
            let record = records.randomElement(using: &generator)!
            let response = ledger.call("access", "request", [record.id, "latest"], as: identity)
            #expect(response.status == 200)
            #expect(ledger.lastWrites["audit"]?.count == 3)
            let result = try response.decoded(AccessDecision.self)
            if role == "operator" {
                operatorRequests += 1
                #expect(result.granted == (record.custodian == hospital), "\(hospital) operator, record of \(record.custodian)")
            }
            if result.granted { #expect(result.anchor?.recordID == record.id) }
        }
        #expect(operatorRequests > 20)
    }
}
