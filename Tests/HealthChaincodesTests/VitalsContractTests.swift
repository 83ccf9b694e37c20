import Chaincode
import Foundation
import Testing

@testable import HealthChaincodes

@Suite struct VitalsContractTests {
    let patient = "HospitalAMSP/pat-ana"
    let nurse = person("nurse-kim", role: "nurse")

    @Test func readingsAreAppendOnlyUnderNormalizedTimes() throws {
        let ledger = FakeLedger()
        ledger.admit(patient)
        let response = ledger.call("vitals", "record", [patient, "ecg-7", "2026-09-22T09:00:00+01:00", digest(1), "rec-1"], as: nurse)
        #expect(response.status == 200, "\(response.message)")
        let reading = try response.decoded(VitalReading.self)
        #expect(reading.timestamp == "2026-09-22T08:00:00.000Z")
        #expect(reading.recordedBy == "HospitalAMSP/nurse-kim")
        #expect(reading.recordID == "rec-1")
        let key = try CompositeKey.make(objectType: "VITAL", attributes: [patient, "ecg-7", "2026-09-22T08:00:00.000Z"])
        #expect(ledger.value("vitals", key) == response.payload)
        // The same instant written another way is the same key: refused.
        let again = ledger.call("vitals", "record", [patient, "ecg-7", "2026-09-22T08:00:00Z", digest(2)], as: nurse)
        #expect(again.status == 400)
        #expect(again.message.contains("append-only"))
        #expect(ledger.value("vitals", key) == response.payload)
        #expect(ledger.call("vitals", "record", [patient, "ecg-7", "2026-09-22T08:00:00.001Z", digest(2)], as: nurse).status == 200)
    }

    @Test func onlyStaffRecord() {
        let ledger = FakeLedger()
        ledger.admit(patient)
        for role in ["nurse", "consulting_doctor", "operator"] {
            #expect(ledger.call("vitals", "record", [patient, "dev-\(role)", "2026-09-22T08:00:00Z", digest(1)], as: person("s", role: role)).status == 200)
        }
        for role in ["patient", "md_student", "auditor", "lab_technician"] {
            #expect(ledger.call("vitals", "record", [patient, "dev", "2026-09-22T08:00:00Z", digest(1)], as: person("s", role: role)).status == 403)
        }
        for arguments in [[patient, "dev", "yesterday", digest(1)], [patient, "dev", "2026-09-22T08:00:00Z", "72bpm"], [patient, "dev"],
                          [patient, "dev", "2026-09-22T08:00:00Z", digest(1), "rec 1"]] {
            #expect(ledger.call("vitals", "record", arguments, as: nurse).status == 400, "\(arguments)")
        }
    }

    @Test func thePatientAndTheirHospitalsStaffRead() throws {
        let ledger = FakeLedger()
        ledger.admit(patient)
        for (minute, device) in [(0, "ecg-7"), (5, "spo2-1"), (10, "ecg-7"), (20, "ecg-7")] {
            let time = HealthTime.string(milliseconds: 1_790_064_000_000 + Int64(minute) * 60_000)
            #expect(ledger.call("vitals", "record", [patient, device, time, digest(minute)], as: nurse).status == 200)
        }
        func times(_ arguments: [String], as identity: ClientIdentity) throws -> [String] {
            let response = ledger.call("vitals", "byPatient", arguments, as: identity)
            #expect(response.status == 200, "\(response.message)")
            return try response.decoded([VitalReading].self).map { "\($0.device)@\($0.timestamp.dropFirst(14).prefix(2))" }
        }
        let ana = person("pat-ana", role: "patient")
        #expect(try times([patient], as: ana) == ["ecg-7@00", "ecg-7@10", "ecg-7@20", "spo2-1@05"])
        #expect(try times([patient, "ecg-7"], as: nurse) == ["ecg-7@00", "ecg-7@10", "ecg-7@20"])
        #expect(try times([patient, "2026-09-22T08:05:00Z", "2026-09-22T08:20:00Z"], as: nurse) == ["ecg-7@10", "spo2-1@05"])
        #expect(try times([patient, "ecg-7", "2026-09-22T08:05:00Z", "2026-09-22T08:20:00.001Z"], as: person("op", role: "operator")) == ["ecg-7@10", "ecg-7@20"])
        // Staff of a hospital with no care relationship, other patients, other roles: refused.
        let nurseB = person("nurse-b", "HospitalBMSP", role: "nurse")
        #expect(ledger.call("vitals", "byPatient", [patient], as: nurseB).status == 403)
        #expect(ledger.call("vitals", "byPatient", [patient], as: person("pat-ben", role: "patient")).status == 403)
        #expect(ledger.call("vitals", "byPatient", [patient], as: person("aud", role: "auditor")).status == 403)
        // An anchor naming HospitalB as custodian, which any of its staff can write, makes no care relationship.
        #expect(ledger.anchor("rec-b", patient: patient, custodian: "HospitalBMSP").status == 200)
        #expect(ledger.call("vitals", "byPatient", [patient], as: nurseB).status == 403)
        #expect(ledger.call("vitals", "record", [patient, "ecg-b", "2026-09-22T09:00:00Z", digest(9)], as: nurseB).status == 403)
        // The patient's consent to HospitalB does.
        #expect(ledger.call("access", "grant", [patient, "hospital", "HospitalBMSP"], as: ana).status == 200)
        #expect(ledger.call("vitals", "byPatient", [patient], as: nurseB).status == 200)
        #expect(ledger.call("vitals", "record", [patient, "ecg-b", "2026-09-22T09:00:00Z", digest(9)], as: nurseB).status == 200)
    }

    @Test func anEmergencySessionIsACareRelationshipForItsDoctorOnly() throws {
        let ledger = FakeLedger()
        let doctor = person("dr-lee", "HospitalBMSP", role: "consulting_doctor")
        #expect(ledger.call("vitals", "byPatient", [patient], as: doctor).status == 403)
        #expect(ledger.call("access", "emergency", [patient, "cardiac-arrest"], as: doctor).status == 200)
        #expect(ledger.call("vitals", "byPatient", [patient], as: doctor).status == 200)
        #expect(ledger.call("vitals", "byPatient", [patient], as: person("dr-other", "HospitalBMSP", role: "consulting_doctor")).status == 403)
    }
}
