import Foundation
import HealthChaincodes
import PhiService
import Testing

/// Which versions the custodian's peers erase for retention: the anchor's organization, resource
/// type and age against that organization's `eraseAfterYears` rules.
@Suite struct RetentionRuleTests {
    static func anchor(_ recordID: String, type: String = "Observation", custodian: String = "HospitalAMSP", at time: String) -> PhiAnchor {
        PhiAnchor(
            recordID: recordID, version: 1, sha256: String(repeating: "a", count: 64), patient: "HospitalAMSP/pat", custodian: custodian,
            resourceType: type, cipher: "AES-256-GCM", keyWrap: "HPKE-P256-SHA256-AES-256-GCM", anchoredBy: "HospitalAMSP/op",
            anchoredAt: time, txID: "tx-\(recordID)")
    }

    static func rules(_ json: String) throws -> [RetentionRule] { try JSONDecoder().decode([RetentionRule].self, from: Data(json.utf8)) }

    @Test func onlyOwnRecordsOfRuledTypesPastTheirYears() throws {
        let rules = try Self.rules(
            """
            [{"custodian":"HospitalAMSP","resourceType":"Observation","keepYears":2,"eraseAfterYears":10,"setBy":"x","setAt":"t","txID":"1"},
             {"custodian":"HospitalAMSP","resourceType":"Condition","keepYears":30,"setBy":"x","setAt":"t","txID":"2"},
             {"custodian":"HospitalBMSP","resourceType":"Procedure","eraseAfterYears":1,"setBy":"x","setAt":"t","txID":"3"}]
            """)
        let anchors = [
            Self.anchor("old-obs", at: "2016-03-01T10:00:00.000Z"),
            Self.anchor("exactly-ten", at: "2016-06-01T12:00:00.000Z"),
            Self.anchor("young-obs", at: "2020-01-01T00:00:00.000Z"),
            Self.anchor("old-condition", type: "Condition", at: "1990-01-01T00:00:00.000Z"),
            Self.anchor("other-custodian", custodian: "HospitalBMSP", at: "2000-01-01T00:00:00.000Z"),
            Self.anchor("b-rule-not-ours", type: "Procedure", at: "2000-01-01T00:00:00.000Z"),
        ]
        let due = PhiRecordService.pastRetention(anchors, rules: rules, custodian: "HospitalAMSP", today: "2026-06-01T12:00:00.000Z")
        #expect(due.map(\.recordID) == ["old-obs", "exactly-ten"])
        #expect(PhiRecordService.pastRetention(anchors, rules: [], custodian: "HospitalAMSP", today: "2026-06-01T12:00:00.000Z").isEmpty)
    }
}
