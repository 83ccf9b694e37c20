import Chaincode
import Foundation
import Testing

@testable import HealthChaincodes

@Suite struct ClinicalContractTests {
    let patient = "HospitalAMSP/pat-ana"
    let trainee = person("dr-young", role: "consulting_doctor", ["is_trainee": "true", "specialty": "cardiology"])
    let attending = person("dr-carter", role: "consulting_doctor", ["specialty": "cardiology"])
    let supervisor = person("dr-senior", role: "consulting_doctor", ["is_supervisor": "true", "specialty": "cardiology"])

    func orderKey(_ id: String) throws -> String { try CompositeKey.make(objectType: "ORDER", attributes: [id]) }

    @Test func aTraineesOrderWaitsForACosignatureUnderAKeyLevelPolicy() throws {
        let ledger = FakeLedger()
        let response = ledger.call("clinical", "createOrder", ["ord-1", patient, "cardiology", digest(42)], as: trainee)
        #expect(response.status == 200, "\(response.message)")
        let order = try response.decoded(ClinicalOrder.self)
        #expect(order.status == .pendingCosign)
        #expect(order.orderedBy == "HospitalAMSP/dr-young")
        #expect(order.hospital == "HospitalAMSP")
        #expect(order.detailsSHA256 == digest(42))
        #expect(response.text.contains(#""status":"PENDING_COSIGN""#))
        let policy = ledger.validationParameter("clinical", try orderKey("ord-1"))
        #expect(policy == Array("AND('HospitalAMSP.peer', 'HospitalAMSP.client[is_supervisor=true,specialty=cardiology]')".utf8))

        let cosigned = ledger.call("clinical", "cosignOrder", ["ord-1"], as: supervisor)
        #expect(cosigned.status == 200, "\(cosigned.message)")
        let active = try cosigned.decoded(ClinicalOrder.self)
        #expect(active.status == .active)
        #expect(active.cosignedBy == "HospitalAMSP/dr-senior")
        #expect(ledger.lastWrites["clinical"]?.keys.sorted() == [try orderKey("ord-1")])
        #expect(ledger.call("clinical", "cosignOrder", ["ord-1"], as: supervisor).message.contains("not PENDING_COSIGN"))
    }

    @Test func anMdStudentIsATraineeWhateverTheCertificateSays() throws {
        let ledger = FakeLedger()
        let student = person("stu", role: "md_student", ["specialty": "cardiology"])
        let order = try ledger.call("clinical", "createOrder", ["ord-s", patient, "cardiology", digest(1)], as: student).decoded(ClinicalOrder.self)
        #expect(order.status == .pendingCosign)
        #expect(ledger.validationParameter("clinical", try orderKey("ord-s")) != nil)
    }

    @Test func anAttendingsOrderIsActiveWithoutAPolicy() throws {
        let ledger = FakeLedger()
        let response = ledger.call("clinical", "createOrder", ["ord-2", patient, "cardiology", digest(7)], as: attending)
        #expect(try response.decoded(ClinicalOrder.self).status == .active)
        #expect(ledger.validationParameter("clinical", try orderKey("ord-2")) == nil)
        let again = ledger.call("clinical", "createOrder", ["ord-2", patient, "cardiology", digest(8)], as: attending)
        #expect(again.status == 400)
        #expect(again.message.contains("already exists"))
        #expect(ledger.call("clinical", "cosignOrder", ["ord-2"], as: supervisor).message.contains("not PENDING_COSIGN"))
    }

    @Test func onlyTheRightSupervisorCosigns() throws {
        let ledger = FakeLedger()
        #expect(ledger.call("clinical", "createOrder", ["ord-1", patient, "cardiology", digest(1)], as: trainee).status == 200)
        let refusals = [
            attending,
            person("dr-neuro", role: "consulting_doctor", ["is_supervisor": "true", "specialty": "neurology"]),
            person("dr-senior-b", "HospitalBMSP", role: "consulting_doctor", ["is_supervisor": "true", "specialty": "cardiology"]),
            person("dr-young", role: "consulting_doctor", ["is_supervisor": "true", "specialty": "cardiology"]),
        ]
        for identity in refusals {
            #expect(ledger.call("clinical", "cosignOrder", ["ord-1"], as: identity).status == 403, "\(identity.personID ?? "")")
        }
        #expect(ledger.call("clinical", "cosignOrder", ["ord-9"], as: supervisor).status == 404)
    }

    @Test func ordersAreCreatedByDoctorsAndReadByStaffAndThePatient() throws {
        let ledger = FakeLedger()
        for role in ["nurse", "operator", "patient", "lab_technician"] {
            #expect(ledger.call("clinical", "createOrder", ["ord-x", patient, "cardiology", digest(1)], as: person("p", role: role)).status == 403)
        }
        #expect(ledger.call("clinical", "createOrder", ["ord-1", patient, "cardiology", digest(1)], as: attending).status == 200)
        #expect(ledger.call("clinical", "createOrder", ["ord-2", patient, "cardiology", digest(2)], as: trainee).status == 200)
        let bDoctor = person("dr-b", "HospitalBMSP", role: "consulting_doctor")
        #expect(ledger.call("clinical", "createOrder", ["ord-3", patient, "oncology", digest(3)], as: bDoctor).status == 200)

        let ana = person("pat-ana", role: "patient")
        #expect(try ledger.call("clinical", "ordersByPatient", [patient], as: ana).decoded([ClinicalOrder].self).map(\.orderID) == ["ord-1", "ord-2", "ord-3"])
        let nurse = person("nurse", role: "nurse")
        #expect(try ledger.call("clinical", "ordersByPatient", [patient], as: nurse).decoded([ClinicalOrder].self).map(\.orderID) == ["ord-1", "ord-2"])
        #expect(try ledger.call("clinical", "getOrder", ["ord-3"], as: ana).decoded(ClinicalOrder.self).specialty == "oncology")
        #expect(ledger.call("clinical", "getOrder", ["ord-3"], as: nurse).status == 403)
        #expect(ledger.call("clinical", "getOrder", ["ord-1"], as: person("pat-ben", role: "patient")).status == 403)
        #expect(ledger.call("clinical", "ordersByPatient", [patient], as: person("aud", role: "auditor")).status == 403)
    }

    @Test func malformedOrdersAreRefused() {
        let ledger = FakeLedger()
        for arguments in [
            ["ord-1", patient, "cardiology"], ["ord 1", patient, "cardiology", digest(1)], ["ord-1", "Ana", "cardiology", digest(1)],
            ["ord-1", patient, "cardiology]", digest(1)], ["ord-1", patient, "cardio,logy", digest(1)], ["ord-1", patient, "cardiology", "abc"],
        ] {
            #expect(ledger.call("clinical", "createOrder", arguments, as: attending).status == 400, "\(arguments)")
        }
    }
}
