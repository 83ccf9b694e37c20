import Chaincode
import Foundation
import Testing

@testable import HealthChaincodes

@Suite struct PhiContractTests {
    let patient = "HospitalAMSP/pat-ana"

    @Test func anchorsAndAddsWhoWhenAndWhichTransaction() throws {
        let ledger = FakeLedger()
        let doctor = person("dr-carter", role: "consulting_doctor")
        let response = ledger.anchor("rec-1", patient: patient, as: doctor)
        #expect(response.status == 200, "\(response.message)")
        let anchor = try response.decoded(PhiAnchor.self)
        #expect(anchor.anchoredBy == "HospitalAMSP/dr-carter")
        #expect(anchor.anchoredAt == "2026-09-22T08:00:00.000Z")
        #expect(anchor.txID == "tx000001")
        #expect(anchor.resourceType == "Observation")
        // Deterministic JSON: sorted keys, unescaped slashes, no labOrg when absent.
        #expect(response.text.hasPrefix(#"{"anchoredAt":"2026-09-22T08:00:00.000Z","anchoredBy":"HospitalAMSP/dr-carter","cipher":"AES-256-GCM","#))
        #expect(!response.text.contains("labOrg"))
        let stored = ledger.value("phi", try CompositeKey.make(objectType: "ANCHOR", attributes: ["rec-1", "0000000001"]))
        #expect(stored == response.payload)
        #expect(ledger.value("phi", try CompositeKey.make(objectType: "PATIENTREC", attributes: [patient, "rec-1"])) == Array("rec-1".utf8))
        #expect(ledger.value("phi", try CompositeKey.make(objectType: "CUSTODIANPATIENT", attributes: ["HospitalAMSP", patient])) == Array(patient.utf8))
    }

    @Test func neverOverwritesAndChainsVersions() throws {
        let ledger = FakeLedger()
        #expect(ledger.anchor("rec-1", patient: patient).status == 200)
        let again = ledger.anchor("rec-1", patient: patient)
        #expect(again.status == 400)
        #expect(again.message.contains("already anchored"))
        let gap = ledger.anchor("rec-1", version: 3, patient: patient)
        #expect(gap.status == 400)
        #expect(gap.message.contains("needs version 2"))
        let otherPatient = ledger.anchor("rec-1", version: 2, patient: "HospitalAMSP/pat-ben")
        #expect(otherPatient.status == 400)
        #expect(otherPatient.message.contains("keep the patient and custodian"))
        #expect(ledger.anchor("rec-1", version: 2, patient: patient).status == 200)
        // The index keys were written once, by the first version only.
        #expect(ledger.lastWrites["phi"]?.count == 1)

        let operatorA = person("op", role: "operator")
        let latest = try ledger.call("phi", "get", ["rec-1", "latest"], as: operatorA).decoded(PhiAnchor.self)
        #expect(latest.version == 2)
        #expect(try ledger.call("phi", "get", ["rec-1", "1"], as: operatorA).decoded(PhiAnchor.self).version == 1)
        #expect(ledger.call("phi", "get", ["rec-1", "3"], as: operatorA).status == 404)
        #expect(ledger.call("phi", "get", ["rec-9", "latest"], as: operatorA).status == 404)
    }

    @Test func versionsSortNumericallyForLatest() throws {
        let ledger = FakeLedger()
        for version in 1...12 { #expect(ledger.anchor("rec-1", version: UInt32(version), patient: patient).status == 200) }
        #expect(ledger.anchor("rec-10", patient: patient).status == 200)
        let reader = person("someone", "HospitalBMSP", role: "auditor")
        #expect(try ledger.call("phi", "get", ["rec-1", "latest"], as: reader).decoded(PhiAnchor.self).version == 12)
        let list = try ledger.call("phi", "list", [patient], as: reader).decoded([PhiAnchor].self)
        #expect(list.map(\.recordID) == ["rec-1", "rec-10"])
        #expect(list.map(\.version) == [12, 1])
        #expect(try ledger.call("phi", "list", ["HospitalAMSP/nobody"], as: reader).decoded([PhiAnchor].self).isEmpty)
    }

    @Test func onlyClinicalStaffOfTheCustodianAnchor() {
        let ledger = FakeLedger()
        for role in ["consulting_doctor", "nurse", "operator"] {
            #expect(ledger.anchor("rec-\(role)", patient: patient, as: person("staff", role: role)).status == 200, "\(role)")
        }
        for role in ["patient", "md_student", "auditor", nil] {
            let refused = ledger.anchor("rec-x", patient: patient, as: person("who", role: role))
            #expect(refused.status == 403, "\(role ?? "none")")
        }
        let otherHospital = ledger.anchor("rec-x", patient: patient, custodian: "HospitalAMSP", as: person("op-b", "HospitalBMSP", role: "operator"))
        #expect(otherHospital.status == 403)
        #expect(otherHospital.message.contains("custodian"))
    }

    @Test func labTechniciansAnchorTheirOwnLabResultsOnly() {
        let ledger = FakeLedger()
        let technician = person("tech", role: "lab_technician", ["lab_org": "LabNorth"])
        #expect(ledger.anchor("lab-1", patient: patient, resourceType: "Observation", labOrg: "LabNorth", as: technician).status == 200)
        #expect(ledger.anchor("lab-2", patient: patient, resourceType: "DiagnosticReport", labOrg: "LabNorth", as: technician).status == 200)
        #expect(ledger.anchor("lab-3", patient: patient, resourceType: "MedicationRequest", labOrg: "LabNorth", as: technician).status == 403)
        #expect(ledger.anchor("lab-4", patient: patient, resourceType: "Observation", labOrg: "LabSouth", as: technician).status == 403)
        #expect(ledger.anchor("lab-5", patient: patient, resourceType: "Observation", as: technician).status == 403)
    }

    @Test func malformedInputGetsAClearErrorWithoutEchoingIt() {
        let ledger = FakeLedger()
        let doctor = person("dr-carter", role: "consulting_doctor")
        func check(_ arguments: [String], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let response = ledger.call("phi", "anchor", arguments, as: doctor)
            #expect(response.status == 400, "\(response.message)", sourceLocation: sourceLocation)
            #expect(response.message.contains(fragment), "\(response.message)", sourceLocation: sourceLocation)
            #expect(!response.message.contains("Ana Lopez"), sourceLocation: sourceLocation)
        }
        let valid: [String: Any] = [
            "recordID": "rec-1", "version": 1, "sha256": digest(1), "patient": patient, "custodian": "HospitalAMSP",
            "resourceType": "Observation", "cipher": "AES-256-GCM", "keyWrap": "ECDH-ES",
        ]
        func json(_ changes: [String: Any?]) -> String {
            var fields = valid
            for (name, value) in changes { fields[name] = value }
            return String(decoding: try! JSONSerialization.data(withJSONObject: fields), as: UTF8.self)
        }
        check(["not json"], "not a well-formed JSON object")
        check([], "expected anchor ANCHOR_JSON")
        check([json([:]), "extra"], "expected anchor ANCHOR_JSON")
        check([json(["sha256": nil])], "missing field 'sha256'")
        check([json(["version": "one"])], "field 'version' has the wrong type")
        check([json(["version": 0])], "version must be at least 1")
        check([json(["version": -1])], "numbers in range")
        check([json(["sha256": String(repeating: "A", count: 64)])], "sha256 must be a SHA-256 digest")
        check([json(["patient": "Ana Lopez"])], "patient must be a person id")
        check([json(["recordID": "Ana Lopez"])], "recordID must be")
        check([json(["cipher": "AES 256"])], "cipher must be a code")
        #expect(ledger.call("phi", "get", ["rec-1", "0"], as: doctor).message.contains("VERSION must be"))
        #expect(ledger.call("phi", "get", ["rec-1", "+1"], as: doctor).status == 400)
        #expect(ledger.call("phi", "nosuch", [], as: doctor).status == 400)
    }

    @Test func hasCustodianAnswersFromTheIndex() throws {
        let ledger = FakeLedger()
        ledger.anchor("rec-1", patient: patient, custodian: "HospitalBMSP")
        let anyone = person("x", role: "nurse")
        #expect(ledger.call("phi", "hasCustodian", ["HospitalBMSP", patient], as: anyone).text == "true")
        #expect(ledger.call("phi", "hasCustodian", ["HospitalAMSP", patient], as: anyone).text == "false")
    }

    @Test func anIdentityWithoutCommonNameIsRefused() {
        let ledger = FakeLedger()
        let nameless = ClientIdentity(id: "x509::OU=client::CN=ca", mspID: "HospitalAMSP", role: "client", attributes: ["role": "operator"])
        let response = ledger.anchor("rec-1", patient: patient, as: nameless)
        #expect(response.status == 403)
        #expect(response.message.contains("common name"))
    }
}
