import Foundation
import Testing

@testable import OffChainStore

/// FHIR R4 checks of PHI records: the examples under Examples/phi/ pass, and each broken rule is
/// refused with a message naming the element and never a value from the record.
@Suite struct FHIRResourceTests {
    static let alice = "HospitalAMSP/patient-alice@hospital-a.medrex.example"
    static let bob = "HospitalBMSP/patient-bob@hospital-b.medrex.example"
    /// Planted in records to check that refusals never echo the record.
    static let sentinel = "SENTINEL-4242"

    /// Examples/phi/ of the repository this file is in (through symlinks: tests may be built from
    /// a package that links to it).
    static let examplesDirectory: URL = {
        var directory = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("Examples/phi")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: "Examples/phi")
    }()

    static func example(_ file: String) throws -> JSONValue {
        try JSONValue(parsing: try Data(contentsOf: examplesDirectory.appendingPathComponent(file)))
    }

    static func json(_ text: String) throws -> JSONValue {
        try JSONValue(parsing: Array(text.utf8))
    }

    static let aliceReference =
        #"{"reference": "Patient/alice-example", "identifier": {"system": "urn:medrex:person", "value": "\#(alice)"}}"#

    /// The reason `value` is refused for, or nil (and a recorded issue) when it is accepted.
    static func refusal(_ value: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        refusal(Data((try? CanonicalJSON.encode(value)) ?? []), sourceLocation: sourceLocation)
    }

    static func refusal(_ json: Data, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        do {
            _ = try FHIRResource(json: json)
            Issue.record("accepted a record that should be refused", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.code == .invalidArgument, sourceLocation: sourceLocation)
            #expect(
                !error.reason.contains(sentinel), "the reason echoes the record: \(error.reason)",
                sourceLocation: sourceLocation)
            #expect(
                !error.reason.contains("alice"), "the reason echoes the record: \(error.reason)",
                sourceLocation: sourceLocation)
            return error.reason
        }
    }

    /// Expects `value` refused with a reason that contains `expected`.
    static func expectRefused(_ value: JSONValue, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation)
    {
        let reason = refusal(value, sourceLocation: sourceLocation)
        #expect(
            reason?.contains(expected) == true, "expected '\(expected)', got '\(reason ?? "acceptance")'",
            sourceLocation: sourceLocation)
    }

    static func expectAccepted(_ value: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let resource = try FHIRResource(json: try CanonicalJSON.data(value))
            #expect(resource.patient == alice, sourceLocation: sourceLocation)
        } catch {
            Issue.record("refused: \(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: The examples

    static let examples: [(file: String, type: String)] = [
        ("patient.json", "Patient"), ("observation-blood-pressure.json", "Observation"),
        ("condition.json", "Condition"),
        ("encounter.json", "Encounter"), ("allergy-intolerance.json", "AllergyIntolerance"),
        ("medication-request.json", "MedicationRequest"), ("medication-statement.json", "MedicationStatement"),
        ("immunization.json", "Immunization"), ("procedure.json", "Procedure"),
        ("diagnostic-report.json", "DiagnosticReport"),
        ("document-reference.json", "DocumentReference"), ("bundle.json", "Bundle"),
    ]

    @Test func everyExampleIsAcceptedAndNamesAlice() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.examplesDirectory.path).filter {
            $0.hasSuffix(".json")
        }.sorted()
        #expect(files == Self.examples.map(\.file).sorted())
        #expect(Set(Self.examples.map(\.type)) == Set(FHIRResource.supportedTypes))
        for (file, type) in Self.examples {
            let json = try Data(contentsOf: Self.examplesDirectory.appendingPathComponent(file))
            let resource = try FHIRResource(json: json)
            #expect(resource.resourceType == type, "\(file)")
            #expect(resource.patient == Self.alice, "\(file)")
            try resource.requirePatient(Self.alice)
            // The canonical form is a fixed point and what the digest covers.
            #expect(try FHIRResource(json: resource.canonical).canonical == resource.canonical, "\(file)")
            #expect(resource.digestHex.count == 64)
            #expect(resource.digestHex == resource.digest.map { String(format: "%02x", $0) }.joined())
        }
        #expect(
            try FHIRResource(
                json: Data(contentsOf: Self.examplesDirectory.appendingPathComponent("observation-blood-pressure.json"))
            ).id == "bp-alice-0001")
    }

    @Test func formattingDoesNotChangeTheDigest() throws {
        let compact = try FHIRResource(
            json: Data(
                #"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":\#(Self.aliceReference),"valueQuantity":{"value":1.50}}"#
                    .utf8))
        let pretty = try FHIRResource(
            json: Data(
                """
                {
                  "valueQuantity": { "value": 15e-1 },
                  "subject": \(Self.aliceReference),
                  "code": { "text": "\\u0078" },
                  "status": "final", "id": "o1",
                  "resourceType": "Observation"
                }
                """.utf8))
        #expect(compact.canonical == pretty.canonical)
        #expect(compact.digestHex == pretty.digestHex)
        #expect(
            String(decoding: compact.canonical, as: UTF8.self).hasPrefix(
                #"{"code":{"text":"x"},"id":"o1","resourceType":"Observation""#))
    }

    // MARK: Each type's rules

    /// Per type: the example, the element naming the patient, whether it has a `status` code
    /// (Condition and AllergyIntolerance have coded clinicalStatus instead), and a choice element
    /// with two variants.
    struct TypeCase: Sendable, CustomTestStringConvertible {
        let file: String
        let type: String
        let patientElement: String
        var hasStatus = true
        let choice: (name: String, first: String, second: String)?
        var testDescription: String { type }
    }

    static let typeCases: [TypeCase] = [
        .init(
            file: "observation-blood-pressure.json", type: "Observation", patientElement: "subject",
            choice: ("value", #"{"valueQuantity": {"value": 1}}"#, #"{"valueString": "high"}"#)),
        .init(
            file: "condition.json", type: "Condition", patientElement: "subject", hasStatus: false,
            choice: ("onset", #"{"onsetDateTime": "2020"}"#, #"{"onsetString": "childhood"}"#)),
        .init(file: "encounter.json", type: "Encounter", patientElement: "subject", choice: nil),
        .init(
            file: "allergy-intolerance.json", type: "AllergyIntolerance", patientElement: "patient", hasStatus: false,
            choice: ("onset", #"{"onsetDateTime": "2020"}"#, #"{"onsetAge": {"value": 4}}"#)),
        .init(
            file: "medication-request.json", type: "MedicationRequest", patientElement: "subject",
            choice: (
                "medication", #"{"medicationCodeableConcept": {"text": "x"}}"#,
                #"{"medicationReference": {"reference": "Medication/m1"}}"#
            )),
        .init(
            file: "medication-statement.json", type: "MedicationStatement", patientElement: "subject",
            choice: (
                "medication", #"{"medicationCodeableConcept": {"text": "x"}}"#,
                #"{"medicationReference": {"reference": "Medication/m1"}}"#
            )),
        .init(
            file: "immunization.json", type: "Immunization", patientElement: "patient",
            choice: ("occurrence", #"{"occurrenceDateTime": "2026-01-02"}"#, #"{"occurrenceString": "last winter"}"#)),
        .init(
            file: "procedure.json", type: "Procedure", patientElement: "subject",
            choice: ("performed", #"{"performedDateTime": "2026"}"#, #"{"performedString": "last year"}"#)),
        .init(
            file: "diagnostic-report.json", type: "DiagnosticReport", patientElement: "subject",
            choice: ("effective", #"{"effectiveDateTime": "2026"}"#, #"{"effectivePeriod": {"start": "2026"}}"#)),
        .init(file: "document-reference.json", type: "DocumentReference", patientElement: "subject", choice: nil),
    ]

    @Test(arguments: typeCases)
    func refusesBrokenRecordsOfEachType(_ test: TypeCase) throws {
        let record = try Self.example(test.file)
        let type = test.type
        let element = test.patientElement
        Self.expectAccepted(record)
        if test.hasStatus {
            Self.expectRefused(record.setting(["status"], to: nil), "\(type).status is required")
            Self.expectRefused(
                record.setting(["status"], to: .string(Self.sentinel)), "\(type).status must be one of: ")
            Self.expectRefused(record.setting(["status"], to: .string(" final")), "\(type).status must be")
            Self.expectRefused(record.setting(["status"], to: .null), "\(type).status is null")
            Self.expectRefused(
                record.setting(["status"], to: .array([.string("final")])), "\(type).status must not be an array")
        } else {
            Self.expectRefused(record.setting(["clinicalStatus"], to: .null), "\(type).clinicalStatus is null")
            Self.expectRefused(
                record.setting(["clinicalStatus", "coding", "0", "code"], to: .string(Self.sentinel)),
                "\(type).clinicalStatus.coding[0].code must be one of: ")
        }
        Self.expectRefused(record.setting([element], to: nil), "\(type).\(element) is required")
        Self.expectRefused(record.setting([element], to: .array([])), "\(type).\(element) must not be an array")
        Self.expectRefused(
            record.setting([element, "identifier"], to: nil), "\(type).\(element).identifier is required")
        Self.expectRefused(
            record.setting([element, "identifier", "system"], to: .string("urn:other:person")),
            "\(type).\(element).identifier.system must be urn:medrex:person")
        Self.expectRefused(
            record.setting([element, "identifier", "value"], to: .string(Self.sentinel)),
            "\(type).\(element).identifier.value must be a Medrex person id")
        Self.expectRefused(
            record.setting([element, "reference"], to: .string("Practitioner/dr-carter")),
            "\(type).\(element).reference must reference a Patient")
        Self.expectRefused(
            record.setting([element, "reference"], to: .string("#p1")),
            "\(type).\(element).reference must not be a contained reference")
        Self.expectRefused(
            record.setting([element, "reference"], to: .string(Self.sentinel)),
            "\(type).\(element).reference must be a FHIR reference")
        Self.expectRefused(
            record.setting([element, "type"], to: .string("Group")), "\(type).\(element).type must be Patient")
        Self.expectRefused(record.setting(["identifier"], to: .array([])), "\(type).identifier is an empty array")
        Self.expectRefused(
            record.setting(["text"], to: try Self.json(#"{"status": "generated", "div": ""}"#)),
            "\(type).text.div is an empty string")
        Self.expectRefused(
            record.setting(["text", "status"], to: .string("draft")), "\(type).text.status must be one of: generated")
        Self.expectRefused(record.setting(["id"], to: .string(Self.sentinel + " ")), "\(type).id must be a FHIR id")
        // Unknown elements are allowed, but not null or empty, and are named by their position in
        // the record (the canonical form the test submits: the capital S sorts first).
        Self.expectAccepted(record.setting(["x-local"], to: try Self.json(#"{"a": [1, "b"]}"#)))
        Self.expectRefused(record.setting([Self.sentinel], to: .null), "\(type).(member 0) is null")
        Self.expectRefused(record.setting([Self.sentinel], to: .object([])), "is an empty object")
        // The patient as other forms of reference.
        Self.expectAccepted(
            record.setting(
                [element, "reference"],
                to: .string("https://fhir.hospital-a.example/r4/Patient/alice-example/_history/3")))
        Self.expectAccepted(
            record.setting([element, "reference"], to: .string("urn:uuid:0F8FAD5B-D9CB-469F-A165-70867728950E")))
        Self.expectAccepted(record.setting([element, "reference"], to: nil))
        if let choice = test.choice {
            let first = try Self.json(choice.first).objectMembers![0]
            let second = try Self.json(choice.second).objectMembers![0]
            var both = record
            for variant in [first, second] { both = both.setting([variant.name], to: variant.value) }
            Self.expectRefused(both, "\(type).\(choice.name)[x] has more than one variant: ")
        }
    }

    @Test func checksPatients() throws {
        let patient = try Self.example("patient.json")
        Self.expectRefused(
            patient.setting(["gender"], to: .string(Self.sentinel)),
            "Patient.gender must be one of: male, female, other, unknown")
        Self.expectRefused(
            patient.setting(["birthDate"], to: .string("1985-02-29")), "Patient.birthDate must be a FHIR date")
        Self.expectAccepted(patient.setting(["birthDate"], to: .string("1984-02")))
        Self.expectRefused(
            patient.setting(["identifier"], to: nil),
            "Patient.identifier must include an identifier with system urn:medrex:person")
        Self.expectRefused(
            patient.setting(["identifier", "0", "system"], to: .string("urn:other")), "Patient.identifier must include")
        Self.expectRefused(
            patient.setting(["identifier", "0", "value"], to: .string("no-slash")),
            "Patient.identifier[0].value must be a Medrex person id")
        let twoPersons = patient.setting(
            ["identifier", "2"], to: try Self.json(#"{"system": "urn:medrex:person", "value": "\#(Self.bob)"}"#))
        Self.expectRefused(
            twoPersons, "Patient.identifier entries [0] and [2] (system urn:medrex:person) name different persons")
        let samePerson = patient.setting(
            ["identifier", "2"], to: try Self.json(#"{"system": "urn:medrex:person", "value": "\#(Self.alice)"}"#))
        Self.expectAccepted(samePerson)
        Self.expectRefused(
            patient.setting(["deceasedBoolean"], to: .bool(false)).setting(["deceasedDateTime"], to: .string("2020")),
            "Patient.deceased[x] has more than one variant: deceasedBoolean, deceasedDateTime")
        Self.expectRefused(
            patient.setting(["telecom", "0", "system"], to: .string("pigeon")),
            "Patient.telecom[0].system must be one of: ")
        Self.expectRefused(patient.setting(["telecom", "0", "system"], to: nil), "Patient.telecom[0] breaks cpt-2")
        Self.expectRefused(
            patient.setting(["name", "0", "use"], to: .string("nick")), "Patient.name[0].use must be one of: ")
        Self.expectRefused(
            patient.setting(["address", "0", "type"], to: .string("home")),
            "Patient.address[0].type must be one of: postal, physical, both")
        Self.expectRefused(
            patient.setting(["contact", "0"], to: try Self.json(#"{"gender": "female"}"#)),
            "Patient.contact[0] breaks pat-1")
        Self.expectRefused(
            patient.setting(["link"], to: try Self.json(#"[{"other": {"reference": "Patient/p2"}}]"#)),
            "Patient.link[0].type is required")
        Self.expectRefused(
            patient.setting(
                ["link"], to: try Self.json(#"[{"other": {"reference": "Practitioner/p2"}, "type": "seealso"}]"#)),
            "Patient.link[0].other.reference must reference a resource of type Patient or RelatedPerson")
        Self.expectAccepted(
            patient.setting(
                ["link"], to: try Self.json(#"[{"other": {"reference": "Patient/p2"}, "type": "replaced-by"}]"#)))
        Self.expectRefused(patient.setting(["active"], to: .string("true")), "Patient.active must be true or false")
        Self.expectRefused(
            patient.setting(["telecom", "0", "rank"], to: .number(0)), "Patient.telecom[0].rank must be at least 1")
        Self.expectRefused(
            patient.setting(["telecom", "0", "rank"], to: .number(1.5)),
            "Patient.telecom[0].rank must be a whole number")
        Self.expectRefused(
            patient.setting(["telecom", "0", "rank"], to: .number(1e300)),
            "Patient.telecom[0].rank must be a whole number")
        Self.expectRefused(
            patient.setting(["name"], to: try Self.json(#"{"family": "X"}"#)), "Patient.name must be an array")
        // A null in an array of primitives only where FHIR JSON aligns it with `_given`.
        Self.expectRefused(
            patient.setting(["name", "0", "given"], to: try Self.json(#"["Alice", null]"#)),
            "Patient.name[0].given[1] is null")
        let aligned = patient.setting(["name", "0", "given"], to: try Self.json(#"["Alice", null]"#))
            .setting(
                ["name", "0", "_given"],
                to: try Self.json(#"[null, {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}]"#))
        Self.expectAccepted(aligned)
        let misaligned = patient.setting(["name", "0", "given"], to: try Self.json(#"["Alice", null]"#))
            .setting(["name", "0", "_given"], to: try Self.json(#"[{"id": "a"}, null]"#))
        Self.expectRefused(misaligned, "is null")
    }

    @Test func checksTypeSpecificRules() throws {
        let observation = try Self.example("observation-blood-pressure.json")
        Self.expectRefused(observation.setting(["code"], to: nil), "Observation.code is required")
        Self.expectRefused(observation.setting(["code"], to: .string("85354-9")), "Observation.code must be an object")
        Self.expectRefused(
            observation.setting(["valueString"], to: .string("x")).setting(
                ["dataAbsentReason"], to: try Self.json(#"{"text": "n/a"}"#)),
            "Observation breaks obs-6")
        Self.expectRefused(
            observation.setting(["component", "1", "code"], to: nil), "Observation.component[1].code is required")
        Self.expectRefused(
            observation.setting(["component", "0", "valueQuantity", "comparator"], to: .string("~")),
            "Observation.component[0].valueQuantity.comparator must be one of")
        Self.expectRefused(
            observation.setting(["component", "0", "valueQuantity", "system"], to: nil),
            "Observation.component[0].valueQuantity breaks qty-3")
        Self.expectRefused(
            observation.setting(["component", "0", "valueQuantity", "value"], to: .string("118")),
            "must be a number (a FHIR decimal)")
        Self.expectRefused(
            observation.setting(["effectiveDateTime"], to: .string("2026-11-30T09:30:00")),
            "Observation.effectiveDateTime must be a FHIR dateTime")
        Self.expectRefused(
            observation.setting(["effectiveDateTime"], to: .string("2026-11-30T24:00:00Z")),
            "Observation.effectiveDateTime must be")
        Self.expectRefused(
            observation.setting(["effectiveDateTime"], to: .string("2026-13")), "Observation.effectiveDateTime must be")
        Self.expectRefused(
            observation.setting(["effectiveDateTime"], to: .string("0000")), "Observation.effectiveDateTime must be")
        for accepted in ["2026", "2026-11", "2026-11-30", "2026-11-30T09:30:00.123+14:00", "2024-02-29T23:59:60-03:30"]
        {
            Self.expectAccepted(observation.setting(["effectiveDateTime"], to: .string(accepted)))
        }
        Self.expectRefused(
            observation.setting(["issued"], to: .string("2026-11-30")), "Observation.issued must be a FHIR instant")
        Self.expectRefused(
            observation.setting(["referenceRange"], to: try Self.json(#"[{"type": {"text": "normal"}}]"#)),
            "Observation.referenceRange[0] breaks obs-3")
        Self.expectRefused(
            observation.setting(["encounter", "reference"], to: .string("Condition/c1")),
            "Observation.encounter.reference must reference a resource of type Encounter")
        Self.expectRefused(
            observation.setting(["encounter", "type"], to: .string("Condition")),
            "Observation.encounter.type must be Encounter")
        for accepted in [
            "https://fhir.hospital-a.example/r4/Encounter/enc-1", "http://h.example/Encounter/e1/_history/2",
            "Encounter/enc-1/_history/7",
            "urn:oid:1.2.840.113619.2.62", "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
        ] {
            Self.expectAccepted(observation.setting(["encounter", "reference"], to: .string(accepted)))
        }
        for refused in [
            "Encounter", "Encounter/", "encounter/e1", "Encounter/e 1", "https://Encounter/e1", "Encounter/e1?x=1",
            "urn:oid:1", "urn:oid:1.02",
            "urn:uuid:0f8fad5b", "Encounter/e1/_history", "ftp://h.example/Encounter/e1", "#",
        ] {
            Self.expectRefused(
                observation.setting(["encounter", "reference"], to: .string(refused)),
                "Observation.encounter.reference must be a FHIR reference")
        }
        // ref-1: a local reference names a contained resource.
        Self.expectRefused(
            observation.setting(["device"], to: try Self.json(##"{"reference": "#dev1"}"##)),
            "Observation.device.reference breaks ref-1")
        Self.expectAccepted(
            observation.setting(["device"], to: try Self.json(##"{"reference": "#dev1"}"##))
                .setting(["contained"], to: try Self.json(#"[{"resourceType": "Device", "id": "dev1"}]"#)))
        Self.expectRefused(
            observation.setting(["contained"], to: try Self.json(#"[{"resourceType": "Device"}]"#)),
            "Observation.contained[0] must have an id")
        Self.expectRefused(
            observation.setting(
                ["contained"],
                to: try Self.json(
                    #"[{"resourceType": "Device", "id": "d", "contained": [{"resourceType": "Device", "id": "e"}]}]"#)),
            "Observation.contained[0] breaks dom-2")

        let condition = try Self.example("condition.json")
        Self.expectRefused(condition.setting(["abatementDateTime"], to: .string("2026")), "Condition breaks con-4")
        Self.expectAccepted(
            condition.setting(["abatementDateTime"], to: .string("2026")).setting(
                ["clinicalStatus", "coding", "0", "code"], to: .string("resolved")))
        Self.expectRefused(
            condition.setting(["verificationStatus", "coding", "0", "code"], to: .string("entered-in-error")),
            "Condition breaks con-5")
        Self.expectRefused(
            condition.setting(["clinicalStatus", "coding", "0", "code"], to: .string(Self.sentinel)),
            "Condition.clinicalStatus.coding[0].code must be one of: active, recurrence")
        Self.expectRefused(
            condition.setting(["clinicalStatus"], to: try Self.json(#"{"text": "active"}"#)),
            "Condition.clinicalStatus must have a coding with system http://terminology.hl7.org/CodeSystem/condition-clinical"
        )
        Self.expectRefused(
            condition.setting(["stage"], to: try Self.json(#"[{"type": {"text": "x"}}]"#)),
            "Condition.stage[0] breaks con-1")

        let allergy = try Self.example("allergy-intolerance.json")
        Self.expectRefused(allergy.setting(["clinicalStatus"], to: nil), "AllergyIntolerance breaks ait-1")
        Self.expectRefused(
            allergy.setting(["verificationStatus", "coding", "0", "code"], to: .string("entered-in-error")),
            "AllergyIntolerance breaks ait-2")
        Self.expectAccepted(
            allergy.setting(["verificationStatus", "coding", "0", "code"], to: .string("entered-in-error")).setting(
                ["clinicalStatus"], to: nil))
        Self.expectRefused(
            allergy.setting(["reaction", "0", "manifestation"], to: nil),
            "AllergyIntolerance.reaction[0].manifestation is required")
        Self.expectRefused(
            allergy.setting(["reaction", "0", "severity"], to: .string("fatal")),
            "AllergyIntolerance.reaction[0].severity must be one of: mild, moderate, severe")
        Self.expectRefused(
            allergy.setting(["criticality"], to: .string("medium")), "AllergyIntolerance.criticality must be one of")
        Self.expectRefused(
            allergy.setting(["category"], to: .string("food")), "AllergyIntolerance.category must be an array")
        Self.expectRefused(
            allergy.setting(["category"], to: try Self.json(#"["food", "drink"]"#)),
            "AllergyIntolerance.category[1] must be one of")
        Self.expectRefused(
            allergy.setting(["type"], to: .string("allergy ")), "AllergyIntolerance.type must be a FHIR code")

        let request = try Self.example("medication-request.json")
        Self.expectRefused(request.setting(["intent"], to: nil), "MedicationRequest.intent is required")
        Self.expectRefused(
            request.setting(["intent"], to: .string("wish")), "MedicationRequest.intent must be one of: proposal")
        Self.expectRefused(
            request.setting(["priority"], to: .string("whenever")),
            "MedicationRequest.priority must be one of: routine, urgent, asap, stat")
        Self.expectRefused(
            request.setting(["medicationCodeableConcept"], to: nil),
            "MedicationRequest.medication[x] is required (one of: medicationCodeableConcept, medicationReference)")
        Self.expectRefused(
            request.setting(["substitution"], to: try Self.json(#"{"reason": {"text": "x"}}"#)),
            "MedicationRequest.substitution.allowed[x] is required")
        Self.expectRefused(
            request.setting(["status"], to: .string("not-taken")), "MedicationRequest.status must be one of")

        let statement = try Self.example("medication-statement.json")
        Self.expectAccepted(statement.setting(["status"], to: .string("not-taken")))
        Self.expectRefused(
            statement.setting(["medicationCodeableConcept"], to: nil), "MedicationStatement.medication[x] is required")

        let immunization = try Self.example("immunization.json")
        Self.expectRefused(
            immunization.setting(["status"], to: .string("in-progress")),
            "Immunization.status must be one of: completed, entered-in-error, not-done")
        Self.expectRefused(immunization.setting(["vaccineCode"], to: nil), "Immunization.vaccineCode is required")
        Self.expectRefused(
            immunization.setting(["occurrenceDateTime"], to: nil), "Immunization.occurrence[x] is required")
        Self.expectRefused(
            immunization.setting(["expirationDate"], to: .string("2027-06-31")),
            "Immunization.expirationDate must be a FHIR date")
        Self.expectRefused(
            immunization.setting(["doseQuantity", "comparator"], to: .string("<")),
            "Immunization.doseQuantity breaks sqty-1")
        Self.expectRefused(
            immunization.setting(["protocolApplied", "0", "doseNumberPositiveInt"], to: nil),
            "Immunization.protocolApplied[0].doseNumber[x] is required")
        Self.expectRefused(
            immunization.setting(["performer", "0", "actor"], to: nil), "Immunization.performer[0].actor is required")

        let procedure = try Self.example("procedure.json")
        Self.expectRefused(
            procedure.setting(["status"], to: .string("done")), "Procedure.status must be one of: preparation")
        Self.expectAccepted(procedure.setting(["status"], to: .string("not-done")))

        let report = try Self.example("diagnostic-report.json")
        Self.expectRefused(report.setting(["code"], to: nil), "DiagnosticReport.code is required")
        Self.expectRefused(
            report.setting(["result", "0", "reference"], to: .string("Patient/x")),
            "DiagnosticReport.result[0].reference must reference a resource of type Observation")

        let document = try Self.example("document-reference.json")
        Self.expectRefused(document.setting(["content"], to: nil), "DocumentReference.content is required")
        Self.expectRefused(document.setting(["content"], to: .array([])), "DocumentReference.content is an empty array")
        Self.expectRefused(
            document.setting(["content", "0", "attachment"], to: nil),
            "DocumentReference.content[0].attachment is required")
        Self.expectRefused(
            document.setting(["content", "0", "attachment", "contentType"], to: nil),
            "DocumentReference.content[0].attachment breaks att-1")
        Self.expectRefused(
            document.setting(["docStatus"], to: .string("draft")),
            "DocumentReference.docStatus must be one of: preliminary, final, amended, entered-in-error")
        Self.expectRefused(
            document.setting(["relatesTo", "0", "code"], to: .string("copies")),
            "DocumentReference.relatesTo[0].code must be one of: replaces, transforms, signs, appends")
        Self.expectRefused(
            document.setting(["relatesTo", "0", "target"], to: nil), "DocumentReference.relatesTo[0].target is required"
        )
        Self.expectRefused(
            document.setting(["status"], to: .string("final")),
            "DocumentReference.status must be one of: current, superseded, entered-in-error")

        let encounter = try Self.example("encounter.json")
        Self.expectRefused(encounter.setting(["class"], to: nil), "Encounter.class is required")
        Self.expectRefused(
            encounter.setting(["class"], to: .array([try Self.json(#"{"code": "AMB"}"#)])),
            "Encounter.class must not be an array")
        Self.expectRefused(
            encounter.setting(["statusHistory", "0", "period"], to: nil),
            "Encounter.statusHistory[0].period is required")
        Self.expectRefused(
            encounter.setting(["location", "0", "status"], to: .string("gone")),
            "Encounter.location[0].status must be one of: planned, active, reserved, completed")
        Self.expectRefused(
            encounter.setting(["extension"], to: try Self.json(#"[{"url": "http://example.org/x"}]"#)),
            "Encounter.extension[0] breaks ext-1")
        Self.expectAccepted(
            encounter.setting(["extension"], to: try Self.json(#"[{"url": "http://example.org/x", "valueCode": "y"}]"#))
        )
    }

    @Test func checksPersonIDs() throws {
        let record = try Self.example("condition.json")
        let refused = [
            "no-slash", "/patient", "HospitalAMSP/", String(repeating: "M", count: 65) + "/p", "Hospital A/p",
            "HospitalAMSP/p\u{7F}",
            "HospitalAMSP/p\u{E9}", "HospitalAMSP/" + String(repeating: "p", count: 244),
        ]
        for personID in refused {
            Self.expectRefused(
                record.setting(["subject", "identifier", "value"], to: .string(personID)),
                "Condition.subject.identifier.value must be a Medrex person id")
        }
        let longest = "HospitalAMSP/" + String(repeating: "p", count: 243)
        #expect(longest.utf8.count == 256)
        let resource = try FHIRResource(
            json: try CanonicalJSON.data(record.setting(["subject", "identifier", "value"], to: .string(longest))))
        #expect(resource.patient == longest)
        let unusual = "Hospital_A.b-c/CN with spaces/and slashes ~!"
        let other = try FHIRResource(
            json: try CanonicalJSON.data(record.setting(["subject", "identifier", "value"], to: .string(unusual))))
        #expect(other.patient == unusual)
    }

    @Test func requirePatientNamesTheElementOnly() throws {
        let resource = try FHIRResource(
            json: Data(contentsOf: Self.examplesDirectory.appendingPathComponent("observation-blood-pressure.json")))
        try resource.requirePatient(Self.alice)
        do {
            try resource.requirePatient(Self.bob)
            Issue.record("accepted another patient")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.reason.contains("Observation.subject.identifier"))
            #expect(!error.reason.contains("alice") && !error.reason.contains("bob"))
        }
        let patient = try FHIRResource(
            json: Data(contentsOf: Self.examplesDirectory.appendingPathComponent("patient.json")))
        #expect(throws: OffChainStoreError.self) { try patient.requirePatient(Self.alice + " ") }
    }

    // MARK: Bundles

    @Test func checksBundles() throws {
        let bundle = try Self.example("bundle.json")
        Self.expectAccepted(bundle)
        let twoPatients = bundle.setting(
            ["entry", "2", "resource", "subject", "identifier", "value"], to: .string(Self.bob))
        let reason = Self.refusal(twoPatients)
        #expect(reason == "Bundle.entry[0] and Bundle.entry[2] name different patients: a record is about one patient")
        #expect(reason?.contains("bob") == false)

        let nested = bundle.setting(
            ["entry", "1", "resource"],
            to: try Self.json(#"{"resourceType": "Bundle", "id": "b2", "type": "collection"}"#))
        Self.expectRefused(nested, "Bundle.entry[1].resource.resourceType must be one of: Patient, Observation")
        Self.expectRefused(nested, "a Bundle inside a Bundle is not accepted")
        Self.expectRefused(
            bundle.setting(["entry", "1", "resource", "resourceType"], to: .string(Self.sentinel)),
            "Bundle.entry[1].resource.resourceType must be one of")
        Self.expectRefused(
            bundle.setting(["entry", "0", "resource", "status"], to: .string("done")),
            "Bundle.entry[0].resource.status must be one of")
        Self.expectRefused(
            bundle.setting(["entry", "2", "resource", "subject", "identifier"], to: nil),
            "Bundle.entry[2].resource.subject.identifier is required")
        Self.expectRefused(bundle.setting(["type"], to: nil), "Bundle.type is required")
        Self.expectRefused(
            bundle.setting(["type"], to: .string("bag")), "Bundle.type must be one of: document, message")
        Self.expectRefused(
            bundle.setting(["type"], to: .string("document")),
            "Bundle of type document must start with a Composition (bdl-11)")
        Self.expectRefused(
            bundle.setting(["type"], to: .string("message")),
            "Bundle of type message must start with a MessageHeader (bdl-12)")
        Self.expectRefused(bundle.setting(["entry"], to: nil), "Bundle has no entry with a resource")
        Self.expectRefused(bundle.setting(["entry"], to: .array([])), "Bundle.entry is an empty array")
        Self.expectRefused(bundle.setting(["total"], to: .number(3)), "Bundle breaks bdl-1")
        Self.expectRefused(bundle.setting(["type"], to: .string("transaction")), "Bundle.entry[0] breaks bdl-3")
        Self.expectRefused(bundle.setting(["type"], to: .string("batch-response")), "Bundle.entry[0] breaks bdl-4")
        Self.expectRefused(
            bundle.setting(["entry", "1", "search"], to: try Self.json(#"{"mode": "match"}"#)),
            "Bundle.entry[1] breaks bdl-2")
        Self.expectRefused(
            bundle.setting(["entry", "1", "fullUrl"], to: .string("https://h.example/Observation/o1/_history/1")),
            "Bundle.entry[1] breaks bdl-8")
        Self.expectRefused(
            bundle.setting(["entry", "2", "fullUrl"], to: .string("urn:uuid:4f1c1b7e-3d0a-4c2e-9a51-2b8f6c7d9e01")),
            "Bundle.entry[2] breaks bdl-7")
        Self.expectRefused(
            bundle.setting(
                ["entry", "3"], to: try Self.json(#"{"fullUrl": "urn:uuid:4f1c1b7e-3d0a-4c2e-9a51-2b8f6c7d9e09"}"#)),
            "Bundle.entry[3] breaks bdl-5")

        // A transaction: requests on every entry; a DELETE entry has no resource.
        var transaction = bundle.setting(["type"], to: .string("transaction"))
        for index in 0..<3 {
            transaction = transaction.setting(
                ["entry", "\(index)", "request"], to: try Self.json(#"{"method": "POST", "url": "Observation"}"#))
        }
        transaction = transaction.setting(
            ["entry", "3"], to: try Self.json(#"{"request": {"method": "DELETE", "url": "Observation/old-1"}}"#))
        Self.expectAccepted(transaction)
        Self.expectRefused(
            transaction.setting(["entry", "3", "request", "method"], to: .string("delete")),
            "Bundle.entry[3].request.method must be one of: GET, HEAD, POST, PUT, DELETE, PATCH")
        Self.expectRefused(
            transaction.setting(["entry", "3", "request", "url"], to: nil), "Bundle.entry[3].request.url is required")
        let onlyDeletes = transaction.setting(
            ["entry"], to: .array([try Self.json(#"{"request": {"method": "DELETE", "url": "Observation/old-1"}}"#)]))
        Self.expectRefused(onlyDeletes, "Bundle has no entry with a resource: a record must name its patient")

        // A Patient entry names the patient by its identifier.
        let withPatient = bundle.setting(
            ["entry", "3"], to: .object([(name: "resource", value: try Self.example("patient.json"))]))
        Self.expectAccepted(withPatient)
        Self.expectRefused(
            withPatient.setting(["entry", "3", "resource", "identifier", "0", "value"], to: .string(Self.bob)),
            "Bundle.entry[0] and Bundle.entry[3] name different patients")

        // Bounded: more than 10,000 entries are refused before any is checked.
        let entry = try Self.json(#"{"fullUrl": "urn:uuid:4f1c1b7e-3d0a-4c2e-9a51-2b8f6c7d9e01"}"#)
        let huge = bundle.setting(
            ["entry"], to: .array(Array(repeating: entry, count: FHIRResource.bundleEntryCountMax + 1)))
        Self.expectRefused(huge, "Bundle.entry has more than 10000 entries")
    }

    // MARK: Record-level refusals

    @Test func refusesWhatIsNotASupportedResource() throws {
        let supported =
            "Patient, Observation, Condition, Encounter, AllergyIntolerance, MedicationRequest, MedicationStatement, Immunization, Procedure, DiagnosticReport, DocumentReference, Bundle"
        #expect(FHIRResource.supportedTypes.joined(separator: ", ") == supported)
        let practitioner = try Self.json(#"{"resourceType": "Practitioner", "id": "p1"}"#)
        #expect(Self.refusal(practitioner) == "the record's resourceType is not one Medrex accepts: \(supported)")
        Self.expectRefused(
            try Self.json(#"{"resourceType": "\#(Self.sentinel)", "id": "p1"}"#), "not one Medrex accepts")
        Self.expectRefused(try Self.json(#"{"resourceType": "observation", "id": "p1"}"#), "not one Medrex accepts")
        Self.expectRefused(try Self.json(#"{"resourceType": 7, "id": "p1"}"#), "the record has no resourceType")
        Self.expectRefused(try Self.json(#"{"id": "p1"}"#), "the record has no resourceType")
        Self.expectRefused(try Self.json(#"[{"resourceType": "Patient"}]"#), "the record is not a JSON object")
        Self.expectRefused(try Self.json(#""Patient""#), "the record is not a JSON object")
        let observation = try Self.example("observation-blood-pressure.json")
        Self.expectRefused(observation.setting(["id"], to: nil), "Observation.id is required")
        Self.expectRefused(
            observation.setting(["id"], to: .string(String(repeating: "a", count: 65))),
            "Observation.id must be a FHIR id")
        Self.expectRefused(observation.setting(["id"], to: .number(1)), "Observation.id must be a FHIR id")
        #expect(Self.refusal(Data(count: OffChainStoreLimits.plaintextBytesMax + 1))?.contains("larger than") == true)
        #expect(
            Self.refusal(Data(#"{"resourceType": "Observation", "id": "\#(Self.sentinel)", "id": "x"}"#.utf8))?
                .contains("duplicate member name") == true)
        #expect(
            Self.refusal(Data(#"{"resourceType": "Observation", "note": "\#(Self.sentinel)\u0000"#.utf8))?.contains(
                "invalid JSON") == true)
    }

    /// Records with the sentinel in the element that breaks a rule: no reason contains it.
    @Test func refusalsNeverEchoTheRecord() throws {
        let observation = try Self.example("observation-blood-pressure.json")
        let sentinel = JSONValue.string(Self.sentinel)
        let mutations: [JSONValue] = [
            observation.setting(["status"], to: sentinel),
            observation.setting(["effectiveDateTime"], to: sentinel),
            observation.setting(["issued"], to: sentinel),
            observation.setting(["subject", "reference"], to: sentinel),
            observation.setting(["subject", "identifier", "value"], to: sentinel),
            observation.setting(["subject", "identifier", "system"], to: sentinel),
            observation.setting(["subject", "type"], to: sentinel),
            observation.setting(["encounter", "reference"], to: .string("Condition/" + Self.sentinel)),
            observation.setting(["encounter", "type"], to: sentinel),
            observation.setting(["code", "coding", "0", "code"], to: .string(Self.sentinel + "  x")),
            observation.setting(["code", "coding", "0", "system"], to: .string(Self.sentinel + " x")),
            observation.setting(["category", "0", "coding", "0", "userSelected"], to: sentinel),
            observation.setting(["component", "0", "valueQuantity", "value"], to: sentinel),
            observation.setting(["id"], to: .string(Self.sentinel + "!")),
            observation.setting([Self.sentinel], to: .null),
            observation.setting([Self.sentinel], to: .string("")),
            observation.setting(["note", "0", Self.sentinel], to: .array([])),
            observation.setting(["resourceType"], to: sentinel),
            observation.setting(["contained"], to: .array([.object([(name: Self.sentinel, value: sentinel)])])),
            observation.setting(["device", "reference"], to: .string("#" + Self.sentinel)),
        ]
        for mutation in mutations {
            _ = Self.refusal(mutation)
        }
    }

    // MARK: Worst inputs

    /// Random byte mutations of every example: each is accepted or refused; none traps, and what
    /// is accepted has a canonical form that is accepted again unchanged.
    @Test func mutatedExamplesNeverTrap() throws {
        var random = SplitMix64(seed: 0x4648_4952)
        let examples = try Self.examples.map {
            try Data(contentsOf: Self.examplesDirectory.appendingPathComponent($0.file))
        }
        let interesting: [UInt8] =
            Array(#"{}[]":,\0-e.#/ _nlltrue"#.utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xED, 0xEF, 0xF0, 0xFF]
        var accepted = 0
        for _ in 0..<1_500 {
            var bytes = [UInt8](examples[Int(random.next() % UInt64(examples.count))])
            for _ in 0...(random.next() % 3) {
                let index = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[index] = interesting[Int(random.next() % UInt64(interesting.count))]
                case 1: bytes.remove(at: index)
                default: bytes.insert(interesting[Int(random.next() % UInt64(interesting.count))], at: index)
                }
            }
            guard let resource = try? FHIRResource(json: Data(bytes)) else { continue }
            accepted += 1
            #expect((try? FHIRResource(json: resource.canonical))?.canonical == resource.canonical)
        }
        #expect(accepted > 0)
    }

    /// Deep, wide and odd structures inside a record: refused or accepted, never a trap.
    @Test func oddStructuresNeverTrap() throws {
        let observation = try Self.example("observation-blood-pressure.json")
        var deep = JSONValue.string("x")
        for _ in 0..<120 { deep = .object([(name: "a", value: deep)]) }
        Self.expectAccepted(observation.setting(["x-deep"], to: deep))
        var deepArrays = JSONValue.number(1)
        for _ in 0..<120 { deepArrays = .array([deepArrays]) }
        Self.expectAccepted(observation.setting(["x-deep"], to: deepArrays))
        // Nested extensions are known elements all the way down: the deepest the parser allows.
        var extensionValue = try Self.json(#"{"url": "http://example.org/leaf", "valueString": "x"}"#)
        for _ in 0..<62 {
            extensionValue = .object([
                (name: "url", value: .string("http://example.org/x")),
                (name: "extension", value: .array([extensionValue])),
            ])
        }
        Self.expectAccepted(observation.setting(["extension"], to: .array([extensionValue])))
        let tooDeep = Data(
            (#"{"resourceType":"Observation","id":"o","x":"# + String(repeating: "[", count: 200_000)
                + String(repeating: "]", count: 200_000) + "}").utf8)
        #expect(Self.refusal(tooDeep)?.contains("nest deeper") == true)
        for value: JSONValue in [
            .bool(true), .number(-1), .array([.null]), .object([(name: "", value: .number(0))]), .string("\u{0}"),
        ] {
            for element in [
                "status", "code", "subject", "component", "note", "effectiveDateTime", "encounter", "contained", "meta",
                "text",
            ] {
                _ = try? FHIRResource(json: try CanonicalJSON.data(observation.setting([element], to: value)))
            }
        }
    }

    /// A large record (several MiB) is checked and canonicalized in reasonable time.
    @Test func largeRecordIsFast() throws {
        var observation = try Self.example("observation-blood-pressure.json")
        observation = observation.setting(
            ["note", "0", "text"], to: .string(String(repeating: "Normal reading. \u{E9}\u{1F600} ", count: 200_000)))
        let component = try Self.json(
            #"{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 118.5, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}"#
        )
        observation = observation.setting(["component"], to: .array(Array(repeating: component, count: 20_000)))
        let json = try CanonicalJSON.data(observation)
        let clock = ContinuousClock()
        var resource: FHIRResource?
        let elapsed = try clock.measure { resource = try FHIRResource(json: json) }
        #expect(resource?.canonical == json)
        #expect(json.count > 5_000_000)
        #expect(elapsed < .seconds(30), "\(json.count) bytes took \(elapsed)")
    }
}

extension JSONValue {
    /// A copy with the value at `path` (member names; array indexes as decimal strings) replaced
    /// by `newValue`, added when missing (an index equal to the count appends), or removed when
    /// `newValue` is nil.
    func setting(_ path: [String], to newValue: JSONValue?) -> JSONValue {
        guard let key = path.first else { return newValue ?? self }
        let rest = Array(path.dropFirst())
        switch self {
        case .array(var items):
            guard let index = Int(key), index >= 0, index <= items.count else { return self }
            if index == items.count {
                if let newValue { items.append(JSONValue.object([]).setting(rest, to: newValue)) }
            } else if rest.isEmpty, newValue == nil {
                items.remove(at: index)
            } else {
                items[index] = items[index].setting(rest, to: newValue)
            }
            return .array(items)
        case .object(var members):
            if let index = members.firstIndex(where: { $0.name == key }) {
                if rest.isEmpty, newValue == nil {
                    members.remove(at: index)
                } else {
                    members[index].value = members[index].value.setting(rest, to: newValue)
                }
            } else if let newValue {
                members.append(
                    (name: key, value: rest.isEmpty ? newValue : JSONValue.object([]).setting(rest, to: newValue)))
            }
            return .object(members)
        default:
            return rest.isEmpty ? (newValue ?? self) : self
        }
    }
}
