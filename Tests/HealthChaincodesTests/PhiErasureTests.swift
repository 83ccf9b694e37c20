import Chaincode
import Foundation
import Testing

@testable import HealthChaincodes

/// `phi`'s patient-contributed records, erasure entries, retention rules and custodian-key events.
@Suite struct PhiErasureTests {
    let patient = "HospitalAMSP/pat-ana"
    var patientIdentity: ClientIdentity { person("pat-ana", role: "patient") }
    let privacyOfficer = person("priv-olga", role: "operator", ["privacy_officer": "true"])

    func erase(_ ledger: FakeLedger, _ recordID: String, version: UInt32? = nil, reason: String, as identity: ClientIdentity) -> ChaincodeResponse {
        var fields = ["\"recordID\":\"\(recordID)\"", "\"reason\":\"\(reason)\""]
        if let version { fields.append("\"version\":\(version)") }
        return ledger.call("phi", "erase", ["{" + fields.joined(separator: ",") + "}"], as: identity)
    }

    @Test func aPatientContributesRecordsOnlyAboutThemself() throws {
        let ledger = FakeLedger()
        let own = ledger.anchor("home-bp-1", patient: patient, as: patientIdentity)
        #expect(own.status == 200, "\(own.message)")
        #expect(try own.decoded(PhiAnchor.self).source == "patient")
        #expect(try own.decoded(PhiAnchor.self).isPatientContributed)
        let other = ledger.anchor("home-bp-2", patient: "HospitalAMSP/pat-ben", as: patientIdentity)
        #expect(other.status == 403)
        #expect(other.message.contains("only about themself"))
        // Staff anchors say so; a staff record cannot get a patient-entered version, nor the reverse.
        let staff = ledger.anchor("lab-1", patient: patient)
        #expect(try staff.decoded(PhiAnchor.self).source == "staff")
        #expect(ledger.anchor("lab-1", version: 2, patient: patient, as: patientIdentity).status == 403)
        #expect(ledger.anchor("home-bp-1", version: 2, patient: patient).status == 403)
        #expect(ledger.anchor("home-bp-1", version: 2, patient: patient, as: patientIdentity).status == 200)
        // The audit trail tells patient-entered from staff-entered versions.
        let puts = try ledger.call("audit", "byPatient", [patient], as: person("aud", role: "auditor")).decoded([AuditEntry].self).filter { $0.action == "put" }
        #expect(puts.map { "\($0.recordID ?? "") v\($0.version ?? 0) \($0.reason) \($0.actor)" } == [
            "home-bp-1 v1 patient-contributed HospitalAMSP/pat-ana", "lab-1 v1 staff-entered HospitalAMSP/anchor-bot",
            "home-bp-1 v2 patient-contributed HospitalAMSP/pat-ana",
        ])
    }

    @Test func erasureIsAllowedToThePatientForTheirOwnContributionsAndToThePrivacyOfficer() throws {
        let ledger = FakeLedger()
        ledger.anchor("home-bp-1", patient: patient, as: patientIdentity)
        ledger.anchor("home-bp-1", version: 2, patient: patient, as: patientIdentity)
        ledger.anchor("lab-1", patient: patient)

        let byOtherPatient = erase(ledger, "home-bp-1", version: 1, reason: "patient-request", as: person("pat-ben", role: "patient"))
        #expect(byOtherPatient.status == 403)
        #expect(byOtherPatient.message.contains("only their own records"))
        let staffRecord = erase(ledger, "lab-1", reason: "patient-request", as: patientIdentity)
        #expect(staffRecord.status == 403)
        #expect(staffRecord.message.contains("entered by staff"))
        let nurse = erase(ledger, "lab-1", reason: "wrong-patient", as: person("nurse-nia", role: "nurse"))
        #expect(nurse.status == 403)
        let otherHospital = erase(ledger, "lab-1", reason: "wrong-patient", as: person("priv-b", "HospitalBMSP", role: "operator", ["privacy_officer": "true"]))
        #expect(otherHospital.status == 403)
        #expect(erase(ledger, "lab-1", reason: "because", as: privacyOfficer).status == 400)
        #expect(ledger.call("phi", "erasure", ["lab-1", "1"], as: privacyOfficer).status == 404)

        let erased = erase(ledger, "home-bp-1", reason: "patient-request", as: patientIdentity)
        #expect(erased.status == 200, "\(erased.message)")
        let entries = try erased.decoded([ErasureEntry].self)
        #expect(entries.map(\.version) == [1, 2])
        #expect(entries.allSatisfy { $0.erasedBy == patient && $0.reason == "patient-request" && $0.erasedAt == "2026-09-22T08:00:00.000Z" })
        let anchorOne = try ledger.call("phi", "get", ["home-bp-1", "1"], as: privacyOfficer).decoded(PhiAnchor.self)
        #expect(entries[0].sha256 == anchorOne.sha256)
        // The anchors stay; the history says erased; erasing again is refused.
        let history = try ledger.call("phi", "history", ["home-bp-1"], as: privacyOfficer).decoded([RecordVersionHistory].self)
        #expect(history.map(\.state) == ["erased", "erased"])
        #expect(history[1].erasure?.txID == entries[1].txID)
        #expect(erase(ledger, "home-bp-1", version: 1, reason: "patient-request", as: patientIdentity).message.contains("already erased"))
        #expect(erase(ledger, "home-bp-1", reason: "patient-request", as: patientIdentity).status == 404)

        // The privacy officer erases a staff record; each erasure is audited in the same transaction.
        #expect(erase(ledger, "lab-1", version: 1, reason: "wrong-patient", as: privacyOfficer).status == 200)
        let audit = try ledger.call("audit", "byPatient", [patient], as: person("aud", role: "auditor")).decoded([AuditEntry].self)
        let erasures = audit.filter { $0.action == "erase" }
        #expect(erasures.map(\.recordID) == ["home-bp-1", "home-bp-1", "lab-1"])
        #expect(erasures.map(\.actor) == [patient, patient, "HospitalAMSP/priv-olga"])
    }

    @Test func retentionRulesHoldErasuresBackAndAllowTheErasureByDate() throws {
        let ledger = FakeLedger()
        ledger.anchor("obs-1", patient: patient)
        ledger.anchor("obs-2", patient: patient)
        #expect(ledger.call("phi", "setRetention", [#"{"resourceType":"Observation","keepYears":6}"#], as: person("nurse", role: "nurse")).status == 403)
        let bad = ledger.call("phi", "setRetention", [#"{"resourceType":"Observation","keepYears":6,"eraseAfterYears":2}"#], as: privacyOfficer)
        #expect(bad.status == 400)
        let rule = ledger.call("phi", "setRetention", [#"{"resourceType":"Observation","keepYears":6,"eraseAfterYears":10}"#], as: privacyOfficer)
        #expect(rule.status == 200, "\(rule.message)")
        #expect(try ledger.call("phi", "retention", ["HospitalAMSP"], as: patientIdentity).decoded([RetentionRule].self).map(\.keepYears) == [6])

        let early = erase(ledger, "obs-1", reason: "duplicate", as: privacyOfficer)
        #expect(early.status == 403)
        #expect(early.message.contains("must be kept 6 years"))
        #expect(erase(ledger, "obs-1", reason: "wrong-patient", as: privacyOfficer).status == 200)

        let notDue = erase(ledger, "obs-2", reason: "retention-expired", as: person("peer0.hospital-a", role: nil).withRole("peer"))
        #expect(notDue.status == 400)
        #expect(notDue.message.contains("not past an erase-by date"))
        ledger.now = FakeLedger.epoch.addingTimeInterval(10 * 366 * 86_400)
        let due = erase(ledger, "obs-2", reason: "retention-expired", as: person("peer0.hospital-a", role: nil).withRole("peer"))
        #expect(due.status == 200, "\(due.message)")
        // Only the custodian's peers (or a privacy officer) erase for retention; a client may not.
        ledger.anchor("obs-3", patient: patient)
        #expect(erase(ledger, "obs-3", reason: "retention-expired", as: person("op", role: "operator")).status == 403)
    }

    @Test func keyEventsAreRecordedByTheCustodiansPeersAndAdmins() throws {
        let ledger = FakeLedger()
        let peer = person("peer0.hospital-a", role: nil).withRole("peer")
        let batch = #"{"event":"rewrapped","keyVersion":2,"count":200,"firstRecord":"rec-1","lastRecord":"rec-9","batchSHA256":"\#(digest(5))"}"#
        #expect(ledger.call("phi", "keyEvent", [batch], as: peer).status == 200)
        #expect(ledger.call("phi", "keyEvent", [batch], as: person("dr", role: "consulting_doctor")).status == 403)
        #expect(ledger.call("phi", "keyEvent", [#"{"event":"stolen","keyVersion":2}"#], as: peer).status == 400)
        ledger.now = ledger.now.addingTimeInterval(1)
        #expect(ledger.call("phi", "keyEvent", [#"{"event":"retired","keyVersion":1}"#], as: person("admin", role: nil).withRole("admin")).status == 200)
        let events = try ledger.call("phi", "keyEvents", ["HospitalAMSP"], as: patientIdentity).decoded([KeyEvent].self)
        #expect(events.map(\.event) == ["rewrapped", "retired"])
        #expect(events[0].count == 200)
        #expect(events[0].actor == "HospitalAMSP/peer0.hospital-a")
    }

    @Test func addingYearsKeepsTheTimeAndClampsTheLeapDay() {
        #expect(HealthTime.adding(years: 6, to: "2026-09-22T08:00:00.000Z") == "2032-09-22T08:00:00.000Z")
        #expect(HealthTime.adding(years: 1, to: "2028-02-29T23:59:59.999Z") == "2029-02-28T23:59:59.999Z")
        #expect(HealthTime.adding(years: 4, to: "2028-02-29T00:00:00.000Z") == "2032-02-29T00:00:00.000Z")
        #expect(HealthTime.adding(years: 200, to: "9900-01-01T00:00:00.000Z") == nil)
        #expect(HealthTime.adding(years: 1, to: "not a time") == nil)
    }
}

extension ClientIdentity {
    /// The same identity with another NodeOU role (`peer`, `admin`).
    func withRole(_ role: String) -> ClientIdentity { ClientIdentity(id: id, mspID: mspID, role: role, attributes: attributes) }
}
