import Chaincode
import Foundation
import Testing

@testable import HealthChaincodes

@Suite struct AuditContractTests {
    let auditor = person("aud", "RegulatorMSP", role: "auditor")
    let carter = person("dr-carter", role: "consulting_doctor")
    let patient = "HospitalAMSP/pat-ana"

    func entry(_ fields: [String: Any]) -> String {
        var all: [String: Any] = ["patient": patient, "action": "put", "decision": "granted", "reason": "stored"]
        for (name, value) in fields { all[name] = value }
        return String(decoding: try! JSONSerialization.data(withJSONObject: all), as: UTF8.self)
    }

    @Test func theActorIsAlwaysTheInvoker() throws {
        let ledger = FakeLedger()
        let response = ledger.call("audit", "append", [entry(["actor": "HospitalAMSP/someone-else", "time": "1999-01-01T00:00:00.000Z"])], as: carter)
        #expect(response.status == 200, "\(response.message)")
        let stored = try response.decoded(AuditEntry.self)
        #expect(stored.actor == "HospitalAMSP/dr-carter")
        #expect(stored.time == "2026-09-22T08:00:00.000Z")
        #expect(stored.txID == "tx000001")
        #expect(stored.sequence == 0)
        let primary = try CompositeKey.make(objectType: "AUDIT", attributes: [patient, stored.time, "tx000001", "0000"])
        #expect(ledger.value("audit", primary) == response.payload)
        #expect(ledger.value("audit", try CompositeKey.make(objectType: "AUDITACTOR", attributes: [stored.actor, stored.time, "tx000001", "0000"])) == Array(primary.utf8))
        #expect(ledger.value("audit", try CompositeKey.make(objectType: "AUDITTIME", attributes: [stored.time, "tx000001", "0000"])) == Array(primary.utf8))
    }

    @Test func severalEntriesInOneTransactionGetSequenceNumbers() throws {
        let ledger = FakeLedger()
        let response = ledger.submit(as: carter) { transaction in
            for (index, patient) in [patient, patient, "HospitalBMSP/pat-ben"].enumerated() {
                let appended = transaction.run("audit", ["append", entry(["patient": patient, "reason": "batch-\(index)"])])
                guard appended.isSuccess else { return appended }
            }
            return ChaincodeResponse(status: 200)
        }
        #expect(response.status == 200, "\(response.message)")
        #expect(ledger.lastWrites["audit"]?.count == 9, "three entries, no key written twice")
        let all = try ledger.call("audit", "byTime", ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"], as: auditor).decoded([AuditEntry].self)
        #expect(all.map(\.sequence) == [0, 1, 2])
        #expect(all.map(\.reason) == ["batch-0", "batch-1", "batch-2"])
        let ana = try ledger.call("audit", "byPatient", [patient], as: auditor).decoded([AuditEntry].self)
        #expect(ana.map(\.sequence) == [0, 1])
    }

    @Test func queriesByPatientActorAndTimeInTimeOrder() throws {
        let ledger = FakeLedger()
        let bell = person("dr-bell", "HospitalBMSP", role: "consulting_doctor")
        // Appended out of order across patients and actors, an hour apart.
        for (hour, actor, who) in [(0, carter, patient), (1, bell, patient), (2, carter, "HospitalBMSP/pat-ben"), (3, carter, patient)] {
            ledger.now = FakeLedger.epoch.addingTimeInterval(Double(hour) * 3600)
            #expect(ledger.call("audit", "append", [entry(["patient": who, "reason": "hour-\(hour)"])], as: actor).status == 200)
        }
        func reasons(_ function: String, _ arguments: [String], as identity: ClientIdentity? = nil) throws -> [String] {
            let response = ledger.call("audit", function, arguments, as: identity ?? auditor)
            #expect(response.status == 200, "\(response.message)")
            return try response.decoded([AuditEntry].self).map(\.reason)
        }
        #expect(try reasons("byPatient", [patient]) == ["hour-0", "hour-1", "hour-3"])
        #expect(try reasons("byPatient", [patient, "2026-09-22T09:00:00.000Z", "2026-09-22T11:00:00Z"]) == ["hour-1"])
        #expect(try reasons("byPatient", [patient, "2026-09-22T10:00:00+01:00", "2026-09-22T11:00:00.001Z"]) == ["hour-1", "hour-3"])
        #expect(try reasons("byActor", ["HospitalAMSP/dr-carter"]) == ["hour-0", "hour-2", "hour-3"])
        #expect(try reasons("byActor", ["HospitalAMSP/dr-carter", "2026-09-22T08:30:00Z", "2026-09-22T10:30:00Z"]) == ["hour-2"])
        #expect(try reasons("byTime", ["2026-09-22T09:00:00Z", "2026-09-22T11:00:00Z"]) == ["hour-1", "hour-2"])
        #expect(try reasons("byTime", ["2026-09-22T00:00:00Z", "2026-09-23T00:00:00Z"]) == ["hour-0", "hour-1", "hour-2", "hour-3"])
        // A patient reads their own trail, not by actor or time.
        let ana = person("pat-ana", role: "patient")
        #expect(try reasons("byPatient", [patient], as: ana) == ["hour-0", "hour-1", "hour-3"])
        #expect(ledger.call("audit", "byPatient", ["HospitalBMSP/pat-ben"], as: ana).status == 403)
        #expect(ledger.call("audit", "byTime", ["2026-09-22T00:00:00Z", "2026-09-23T00:00:00Z"], as: ana).status == 403)
        #expect(ledger.call("audit", "byActor", ["HospitalAMSP/dr-carter"], as: carter).status == 403)
    }

    @Test func malformedEntriesAndBoundsAreRefused() {
        let ledger = FakeLedger()
        func check(_ function: String, _ arguments: [String], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let response = ledger.call("audit", function, arguments, as: function == "append" ? carter : auditor)
            #expect(response.status == 400, "\(response.message)", sourceLocation: sourceLocation)
            #expect(response.message.contains(fragment), "\(response.message)", sourceLocation: sourceLocation)
        }
        check("append", ["{"], "not a well-formed JSON object")
        check("append", [entry(["decision": "maybe"])], "decision must be")
        check("append", [entry(["reason": "Patient said she was dizzy"])], "reason must be a code")
        check("append", [entry(["patient": "Ana"])], "patient must be a person id")
        check("append", [entry(["version": 0])], "version must be at least 1")
        check("append", [entry(["action": "READ"])], "action must be a code")
        check("byTime", ["yesterday", "today"], "FROM must be an ISO-8601 time")
        check("byTime", ["2026-09-23T00:00:00Z", "2026-09-22T00:00:00Z"], "FROM must not be after TO")
        check("byPatient", [patient, "2026-09-22T00:00:00Z"], "expected byPatient PATIENT [FROM TO]")
    }
}
