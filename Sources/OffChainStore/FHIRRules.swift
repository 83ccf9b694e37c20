/// The FHIR R4 (4.0.1) rules Medrex checks a PHI record against, as data: for each supported
/// resource type and each complex data type, its elements (name, cardinality, type), its choice
/// elements (`value[x]`) and the invariants that are simple to state. `FHIRValidator` walks a
/// record with these tables; elements not listed here are allowed and only checked for FHIR
/// JSON's general rules (no null, no empty strings, arrays or objects).
///
/// Sources: the R4 resource definitions (cardinalities, types, required bindings and their value
/// sets) and their constraints (obs-3, obs-6, con-1, con-2, con-4, con-5, ait-1, ait-2, pat-1,
/// qty-3, sqty-1, att-1, cpt-2, ext-1; the Bundle's bdl-* are checked by `FHIRValidator`).
/// Medrex departs from R4 in one place: the element naming the patient (`subject` or `patient`)
/// is required and must carry a `urn:medrex:person` identifier, where R4 often has 0..1.

// MARK: - The vocabulary

/// How many times an element may occur: R4's min..max in the four shapes it uses.
enum FHIRCardinality: Sendable {
    /// 0..1
    case optional
    /// 1..1
    case required
    /// 0..*
    case many
    /// 1..*
    case oneOrMore

    var isRequired: Bool { self == .required || self == .oneOrMore }
    /// Whether the element is an array in FHIR JSON.
    var repeats: Bool { self == .many || self == .oneOrMore }
}

/// A value set bound with strength `required`. A `code` element must hold one of `codes`; a
/// `CodeableConcept` must have a coding with `system` and one of `codes`, and every coding with
/// that system must carry one of them (codings of other systems are translations).
struct FHIRValueSet: Sendable {
    let system: String
    let codes: [String]

    /// Exact comparison by UTF-8 bytes (not Swift's canonical equivalence).
    func contains(_ code: String) -> Bool {
        codes.contains { $0.utf8.elementsEqual(code.utf8) }
    }

    var listed: String { codes.joined(separator: ", ") }
}

/// The primitive types whose syntax Medrex checks (R4's regular expressions and value ranges).
enum FHIRPrimitive: Sendable {
    case boolean, integer, positiveInt, unsignedInt, decimal
    case string, markdown, uri, url, canonical, id, code, base64Binary
    case date, dateTime, instant, time
}

/// The complex data types Medrex checks. They are named rather than nested so that types can
/// refer to each other (an Extension holds Extensions).
enum FHIRDataType: Sendable {
    case identifier, codeableConcept, coding, quantity, simpleQuantity, period, range, ratio
    case annotation, attachment, humanName, contactPoint, address, meta, narrative, fhirExtension

    var structure: FHIRStructure {
        switch self {
        case .identifier: FHIRRules.identifier
        case .codeableConcept: FHIRRules.codeableConcept
        case .coding: FHIRRules.coding
        case .quantity: FHIRRules.quantity
        case .simpleQuantity: FHIRRules.simpleQuantity
        case .period: FHIRRules.period
        case .range: FHIRRules.range
        case .ratio: FHIRRules.ratio
        case .annotation: FHIRRules.annotation
        case .attachment: FHIRRules.attachment
        case .humanName: FHIRRules.humanName
        case .contactPoint: FHIRRules.contactPoint
        case .address: FHIRRules.address
        case .meta: FHIRRules.meta
        case .narrative: FHIRRules.narrative
        case .fhirExtension: FHIRRules.fhirExtension
        }
    }
}

/// What an element holds.
enum FHIRElementType: Sendable {
    case primitive(FHIRPrimitive)
    /// A `code` with a required binding.
    case code(FHIRValueSet)
    /// A `CodeableConcept` with a required binding.
    case concept(FHIRValueSet)
    case dataType(FHIRDataType)
    /// A Reference to one of these resource types (any type when empty).
    case reference([String])
    /// The Reference naming the record's patient (Medrex: a `urn:medrex:person` identifier).
    case patientReference
    /// An element defined inline by its resource (R4's BackboneElement).
    case backbone(FHIRStructure)
    /// A complex type Medrex does not check beyond being an object (Timing, Dosage, ...).
    case object
    /// `Bundle.entry.resource`: a whole resource, checked against its own type's rules.
    case entryResource
    /// `contained`: an inline resource (with an id, no nested contained resources).
    case containedResource
}

/// One element of a structure.
struct FHIRElement: Sendable {
    let name: String
    let cardinality: FHIRCardinality
    let type: FHIRElementType

    init(_ name: String, _ cardinality: FHIRCardinality = .optional, _ type: FHIRElementType) {
        self.name = name
        self.cardinality = cardinality
        self.type = type
    }
}

/// A choice element `name[x]`: at most one of its variants (`name` + suffix) may be present,
/// exactly one when it is required.
struct FHIRChoice: Sendable {
    let name: String
    let isRequired: Bool
    let variants: [FHIRElement]

    /// `variants` are given by their type suffix (`("Quantity", .dataType(.quantity))`).
    init(_ name: String, required: Bool = false, _ variants: [(suffix: String, type: FHIRElementType)]) {
        self.name = name
        self.isRequired = required
        self.variants = variants.map { FHIRElement(name + $0.suffix, .optional, $0.type) }
    }

    var variantNames: String { variants.map(\.name).joined(separator: ", ") }
}

/// A constraint on one object, with its R4 key and text.
struct FHIRInvariant: Sendable {
    let key: String
    let rule: String
    let holds: @Sendable (JSONValue) -> Bool
}

/// The elements, choices and invariants of a resource, data type or backbone element. Every
/// structure also allows `id`, `extension` and `modifierExtension` (added by the validator).
struct FHIRStructure: Sendable {
    let elements: [FHIRElement]
    let choices: [FHIRChoice]
    let invariants: [FHIRInvariant]

    init(_ elements: [FHIRElement], choices: [FHIRChoice] = [], invariants: [FHIRInvariant] = []) {
        self.elements = elements
        self.choices = choices
        self.invariants = invariants
    }
}

// MARK: - The tables

/// The rule tables: value sets, data types and resources.
enum FHIRRules {
    /// The resource types Medrex accepts as a record (Bundle only at the top level).
    static let resources: [(type: String, structure: FHIRStructure)] = [
        ("Patient", patient), ("Observation", observation), ("Condition", condition), ("Encounter", encounter),
        ("AllergyIntolerance", allergyIntolerance), ("MedicationRequest", medicationRequest),
        ("MedicationStatement", medicationStatement), ("Immunization", immunization), ("Procedure", procedure),
        ("DiagnosticReport", diagnosticReport), ("DocumentReference", documentReference), ("Bundle", bundle),
    ]

    /// The rules of `type`, compared by UTF-8 bytes.
    static func structure(of type: String) -> FHIRStructure? {
        resources.first(where: { $0.type.utf8.elementsEqual(type.utf8) })?.structure
    }

    /// Elements of every resource (Resource).
    static let resourceElements: [FHIRElement] = [
        .init("id", .optional, .primitive(.id)),
        .init("meta", .optional, .dataType(.meta)),
        .init("implicitRules", .optional, .primitive(.uri)),
        .init("language", .optional, .primitive(.code)),
    ]

    /// Elements of every resource but Bundle (DomainResource).
    static let domainResourceElements: [FHIRElement] =
        resourceElements + [
            .init("text", .optional, .dataType(.narrative)),
            .init("contained", .many, .containedResource),
            .init("extension", .many, .dataType(.fhirExtension)),
            .init("modifierExtension", .many, .dataType(.fhirExtension)),
        ]

    /// Elements of every element (Element and BackboneElement).
    static let elementElements: [FHIRElement] = [
        .init("id", .optional, .primitive(.string)),
        .init("extension", .many, .dataType(.fhirExtension)),
        .init("modifierExtension", .many, .dataType(.fhirExtension)),
    ]

    // MARK: Value sets (required bindings)

    static let administrativeGender = FHIRValueSet(
        system: "http://hl7.org/fhir/administrative-gender", codes: ["male", "female", "other", "unknown"])
    static let linkType = FHIRValueSet(
        system: "http://hl7.org/fhir/link-type", codes: ["replaced-by", "replaces", "refer", "seealso"])
    static let nameUse = FHIRValueSet(
        system: "http://hl7.org/fhir/name-use",
        codes: ["usual", "official", "temp", "nickname", "anonymous", "old", "maiden"])
    static let contactPointSystem = FHIRValueSet(
        system: "http://hl7.org/fhir/contact-point-system",
        codes: ["phone", "fax", "email", "pager", "url", "sms", "other"])
    static let contactPointUse = FHIRValueSet(
        system: "http://hl7.org/fhir/contact-point-use", codes: ["home", "work", "temp", "old", "mobile"])
    static let addressUse = FHIRValueSet(
        system: "http://hl7.org/fhir/address-use", codes: ["home", "work", "temp", "old", "billing"])
    static let addressType = FHIRValueSet(
        system: "http://hl7.org/fhir/address-type", codes: ["postal", "physical", "both"])
    static let identifierUse = FHIRValueSet(
        system: "http://hl7.org/fhir/identifier-use", codes: ["usual", "official", "temp", "secondary", "old"])
    static let quantityComparator = FHIRValueSet(
        system: "http://hl7.org/fhir/quantity-comparator", codes: ["<", "<=", ">=", ">"])
    static let narrativeStatus = FHIRValueSet(
        system: "http://hl7.org/fhir/narrative-status", codes: ["generated", "extensions", "additional", "empty"])
    static let observationStatus = FHIRValueSet(
        system: "http://hl7.org/fhir/observation-status",
        codes: [
            "registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown",
        ])
    static let conditionClinical = FHIRValueSet(
        system: "http://terminology.hl7.org/CodeSystem/condition-clinical",
        codes: ["active", "recurrence", "relapse", "inactive", "remission", "resolved"])
    static let conditionVerification = FHIRValueSet(
        system: "http://terminology.hl7.org/CodeSystem/condition-ver-status",
        codes: ["unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"])
    static let encounterStatus = FHIRValueSet(
        system: "http://hl7.org/fhir/encounter-status",
        codes: [
            "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error",
            "unknown",
        ])
    static let encounterLocationStatus = FHIRValueSet(
        system: "http://hl7.org/fhir/encounter-location-status", codes: ["planned", "active", "reserved", "completed"])
    static let allergyClinical = FHIRValueSet(
        system: "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
        codes: ["active", "inactive", "resolved"])
    static let allergyVerification = FHIRValueSet(
        system: "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
        codes: ["unconfirmed", "confirmed", "refuted", "entered-in-error"])
    static let allergyType = FHIRValueSet(
        system: "http://hl7.org/fhir/allergy-intolerance-type", codes: ["allergy", "intolerance"])
    static let allergyCategory = FHIRValueSet(
        system: "http://hl7.org/fhir/allergy-intolerance-category",
        codes: ["food", "medication", "environment", "biologic"])
    static let allergyCriticality = FHIRValueSet(
        system: "http://hl7.org/fhir/allergy-intolerance-criticality", codes: ["low", "high", "unable-to-assess"])
    static let reactionSeverity = FHIRValueSet(
        system: "http://hl7.org/fhir/reaction-event-severity", codes: ["mild", "moderate", "severe"])
    static let medicationRequestStatus = FHIRValueSet(
        system: "http://hl7.org/fhir/CodeSystem/medicationrequest-status",
        codes: ["active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"])
    static let medicationRequestIntent = FHIRValueSet(
        system: "http://hl7.org/fhir/CodeSystem/medicationrequest-intent",
        codes: [
            "proposal", "plan", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option",
        ])
    static let requestPriority = FHIRValueSet(
        system: "http://hl7.org/fhir/request-priority", codes: ["routine", "urgent", "asap", "stat"])
    static let medicationStatementStatus = FHIRValueSet(
        system: "http://hl7.org/fhir/CodeSystem/medication-statement-status",
        codes: ["active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken"])
    static let immunizationStatus = FHIRValueSet(
        system: "http://hl7.org/fhir/event-status", codes: ["completed", "entered-in-error", "not-done"])
    static let eventStatus = FHIRValueSet(
        system: "http://hl7.org/fhir/event-status",
        codes: [
            "preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown",
        ])
    static let diagnosticReportStatus = FHIRValueSet(
        system: "http://hl7.org/fhir/diagnostic-report-status",
        codes: [
            "registered", "partial", "preliminary", "final", "amended", "corrected", "appended", "cancelled",
            "entered-in-error", "unknown",
        ])
    static let documentReferenceStatus = FHIRValueSet(
        system: "http://hl7.org/fhir/document-reference-status", codes: ["current", "superseded", "entered-in-error"])
    static let compositionStatus = FHIRValueSet(
        system: "http://hl7.org/fhir/composition-status",
        codes: ["preliminary", "final", "amended", "entered-in-error"])
    static let documentRelationshipType = FHIRValueSet(
        system: "http://hl7.org/fhir/document-relationship-type", codes: ["replaces", "transforms", "signs", "appends"])
    static let bundleType = FHIRValueSet(
        system: "http://hl7.org/fhir/bundle-type",
        codes: [
            "document", "message", "transaction", "transaction-response", "batch", "batch-response", "history",
            "searchset", "collection",
        ])
    static let httpVerb = FHIRValueSet(
        system: "http://hl7.org/fhir/http-verb", codes: ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"])
    static let searchEntryMode = FHIRValueSet(
        system: "http://hl7.org/fhir/search-entry-mode", codes: ["match", "include", "outcome"])

    // MARK: Data types

    static let identifier = FHIRStructure([
        .init("use", .optional, .code(identifierUse)),
        .init("type", .optional, .dataType(.codeableConcept)),
        .init("system", .optional, .primitive(.uri)),
        .init("value", .optional, .primitive(.string)),
        .init("period", .optional, .dataType(.period)),
        .init("assigner", .optional, .reference(["Organization"])),
    ])

    /// Reference's own elements; its `reference` string is checked by `FHIRValidator`.
    static let reference = FHIRStructure([
        .init("reference", .optional, .primitive(.string)),
        .init("type", .optional, .primitive(.uri)),
        .init("identifier", .optional, .dataType(.identifier)),
        .init("display", .optional, .primitive(.string)),
    ])

    static let codeableConcept = FHIRStructure([
        .init("coding", .many, .dataType(.coding)),
        .init("text", .optional, .primitive(.string)),
    ])

    static let coding = FHIRStructure([
        .init("system", .optional, .primitive(.uri)),
        .init("version", .optional, .primitive(.string)),
        .init("code", .optional, .primitive(.code)),
        .init("display", .optional, .primitive(.string)),
        .init("userSelected", .optional, .primitive(.boolean)),
    ])

    private static let quantityElements: [FHIRElement] = [
        .init("value", .optional, .primitive(.decimal)),
        .init("unit", .optional, .primitive(.string)),
        .init("system", .optional, .primitive(.uri)),
        .init("code", .optional, .primitive(.code)),
    ]

    private static let qty3 = FHIRInvariant(key: "qty-3", rule: "a unit code needs a system") {
        $0[member: "code"] == nil || $0[member: "system"] != nil
    }

    static let quantity = FHIRStructure(
        quantityElements + [.init("comparator", .optional, .code(quantityComparator))], invariants: [qty3])

    static let simpleQuantity = FHIRStructure(
        quantityElements,
        invariants: [
            qty3,
            FHIRInvariant(key: "sqty-1", rule: "a SimpleQuantity has no comparator") {
                $0[member: "comparator"] == nil
            },
        ])

    static let period = FHIRStructure([
        .init("start", .optional, .primitive(.dateTime)),
        .init("end", .optional, .primitive(.dateTime)),
    ])

    static let range = FHIRStructure([
        .init("low", .optional, .dataType(.simpleQuantity)),
        .init("high", .optional, .dataType(.simpleQuantity)),
    ])

    static let ratio = FHIRStructure([
        .init("numerator", .optional, .dataType(.quantity)),
        .init("denominator", .optional, .dataType(.quantity)),
    ])

    static let annotation = FHIRStructure(
        [
            .init("time", .optional, .primitive(.dateTime)),
            .init("text", .required, .primitive(.markdown)),
        ],
        choices: [FHIRChoice("author", [("Reference", .reference([])), ("String", .primitive(.string))])])

    static let attachment = FHIRStructure(
        [
            .init("contentType", .optional, .primitive(.code)),
            .init("language", .optional, .primitive(.code)),
            .init("data", .optional, .primitive(.base64Binary)),
            .init("url", .optional, .primitive(.url)),
            .init("size", .optional, .primitive(.unsignedInt)),
            .init("hash", .optional, .primitive(.base64Binary)),
            .init("title", .optional, .primitive(.string)),
            .init("creation", .optional, .primitive(.dateTime)),
        ],
        invariants: [
            FHIRInvariant(key: "att-1", rule: "an attachment with data needs a contentType") {
                $0[member: "data"] == nil || $0[member: "contentType"] != nil
            }
        ])

    static let humanName = FHIRStructure([
        .init("use", .optional, .code(nameUse)),
        .init("text", .optional, .primitive(.string)),
        .init("family", .optional, .primitive(.string)),
        .init("given", .many, .primitive(.string)),
        .init("prefix", .many, .primitive(.string)),
        .init("suffix", .many, .primitive(.string)),
        .init("period", .optional, .dataType(.period)),
    ])

    static let contactPoint = FHIRStructure(
        [
            .init("system", .optional, .code(contactPointSystem)),
            .init("value", .optional, .primitive(.string)),
            .init("use", .optional, .code(contactPointUse)),
            .init("rank", .optional, .primitive(.positiveInt)),
            .init("period", .optional, .dataType(.period)),
        ],
        invariants: [
            FHIRInvariant(key: "cpt-2", rule: "a contact point with a value needs a system") {
                $0[member: "value"] == nil || $0[member: "system"] != nil
            }
        ])

    static let address = FHIRStructure([
        .init("use", .optional, .code(addressUse)),
        .init("type", .optional, .code(addressType)),
        .init("text", .optional, .primitive(.string)),
        .init("line", .many, .primitive(.string)),
        .init("city", .optional, .primitive(.string)),
        .init("district", .optional, .primitive(.string)),
        .init("state", .optional, .primitive(.string)),
        .init("postalCode", .optional, .primitive(.string)),
        .init("country", .optional, .primitive(.string)),
        .init("period", .optional, .dataType(.period)),
    ])

    static let meta = FHIRStructure([
        .init("versionId", .optional, .primitive(.id)),
        .init("lastUpdated", .optional, .primitive(.instant)),
        .init("source", .optional, .primitive(.uri)),
        .init("profile", .many, .primitive(.canonical)),
        .init("security", .many, .dataType(.coding)),
        .init("tag", .many, .dataType(.coding)),
    ])

    static let narrative = FHIRStructure([
        .init("status", .required, .code(narrativeStatus)),
        .init("div", .required, .primitive(.string)),
    ])

    static let fhirExtension = FHIRStructure(
        [.init("url", .required, .primitive(.uri))],
        invariants: [
            FHIRInvariant(key: "ext-1", rule: "an extension has either nested extensions or a value[x], not both") {
                object in
                let hasValue =
                    object.objectMembers?.contains(where: { $0.name.utf8.starts(with: "value".utf8) }) ?? false
                return (object[member: "extension"] != nil) != hasValue
            }
        ])

    // MARK: Invariants shared by several resources

    /// Whether `concept` (a CodeableConcept) has a coding of `system` with one of `codes`.
    static func hasCoding(_ concept: JSONValue?, system: String, codes: [String]) -> Bool {
        guard let codings = concept?[member: "coding"]?.arrayValue else { return false }
        return codings.contains { coding in
            guard let codingSystem = coding[member: "system"]?.stringValue,
                let code = coding[member: "code"]?.stringValue
            else { return false }
            return codingSystem.utf8.elementsEqual(system.utf8) && codes.contains { $0.utf8.elementsEqual(code.utf8) }
        }
    }

    /// Whether any member of `object` is a variant of the choice `name[x]`.
    static func hasChoice(_ object: JSONValue, _ choice: FHIRChoice) -> Bool {
        choice.variants.contains { object[member: $0.name] != nil }
    }

    private static let valueChoiceOfObservation = FHIRChoice(
        "value",
        [
            ("Quantity", .dataType(.quantity)), ("CodeableConcept", .dataType(.codeableConcept)),
            ("String", .primitive(.string)), ("Boolean", .primitive(.boolean)), ("Integer", .primitive(.integer)),
            ("Range", .dataType(.range)), ("Ratio", .dataType(.ratio)), ("SampledData", .object),
            ("Time", .primitive(.time)), ("DateTime", .primitive(.dateTime)), ("Period", .dataType(.period)),
        ])

    private static let obs6 = FHIRInvariant(
        key: "obs-6", rule: "dataAbsentReason is only allowed when there is no value[x]"
    ) {
        $0[member: "dataAbsentReason"] == nil || !hasChoice($0, valueChoiceOfObservation)
    }

    /// onset[x] and abatement[x] of Condition, onset[x] of AllergyIntolerance.
    private static func onsetChoice(_ name: String) -> FHIRChoice {
        FHIRChoice(
            name,
            [
                ("DateTime", .primitive(.dateTime)), ("Age", .dataType(.quantity)), ("Period", .dataType(.period)),
                ("Range", .dataType(.range)), ("String", .primitive(.string)),
            ])
    }

    private static let practitionerOrPatient = ["Practitioner", "PractitionerRole", "Patient", "RelatedPerson"]

    // MARK: Resources

    static let patient = FHIRStructure(
        [
            .init("identifier", .many, .dataType(.identifier)),
            .init("active", .optional, .primitive(.boolean)),
            .init("name", .many, .dataType(.humanName)),
            .init("telecom", .many, .dataType(.contactPoint)),
            .init("gender", .optional, .code(administrativeGender)),
            .init("birthDate", .optional, .primitive(.date)),
            .init("address", .many, .dataType(.address)),
            .init("maritalStatus", .optional, .dataType(.codeableConcept)),
            .init("photo", .many, .dataType(.attachment)),
            .init(
                "contact", .many,
                .backbone(
                    FHIRStructure(
                        [
                            .init("relationship", .many, .dataType(.codeableConcept)),
                            .init("name", .optional, .dataType(.humanName)),
                            .init("telecom", .many, .dataType(.contactPoint)),
                            .init("address", .optional, .dataType(.address)),
                            .init("gender", .optional, .code(administrativeGender)),
                            .init("organization", .optional, .reference(["Organization"])),
                            .init("period", .optional, .dataType(.period)),
                        ],
                        invariants: [
                            FHIRInvariant(
                                key: "pat-1", rule: "a contact needs a name, telecom, address or organization"
                            ) { contact in
                                ["name", "telecom", "address", "organization"].contains { contact[member: $0] != nil }
                            }
                        ]))),
            .init(
                "communication", .many,
                .backbone(
                    FHIRStructure([
                        .init("language", .required, .dataType(.codeableConcept)),
                        .init("preferred", .optional, .primitive(.boolean)),
                    ]))),
            .init("generalPractitioner", .many, .reference(["Organization", "Practitioner", "PractitionerRole"])),
            .init("managingOrganization", .optional, .reference(["Organization"])),
            .init(
                "link", .many,
                .backbone(
                    FHIRStructure([
                        .init("other", .required, .reference(["Patient", "RelatedPerson"])),
                        .init("type", .required, .code(linkType)),
                    ]))),
        ],
        choices: [
            FHIRChoice("deceased", [("Boolean", .primitive(.boolean)), ("DateTime", .primitive(.dateTime))]),
            FHIRChoice("multipleBirth", [("Boolean", .primitive(.boolean)), ("Integer", .primitive(.integer))]),
        ])

    private static let observationReferenceRange = FHIRStructure(
        [
            .init("low", .optional, .dataType(.simpleQuantity)),
            .init("high", .optional, .dataType(.simpleQuantity)),
            .init("type", .optional, .dataType(.codeableConcept)),
            .init("appliesTo", .many, .dataType(.codeableConcept)),
            .init("age", .optional, .dataType(.range)),
            .init("text", .optional, .primitive(.string)),
        ],
        invariants: [
            FHIRInvariant(key: "obs-3", rule: "a reference range needs a low, a high or a text") { range in
                ["low", "high", "text"].contains { range[member: $0] != nil }
            }
        ])

    static let observation = FHIRStructure(
        [
            .init("identifier", .many, .dataType(.identifier)),
            .init("basedOn", .many, .reference([])),
            .init("partOf", .many, .reference([])),
            .init("status", .required, .code(observationStatus)),
            .init("category", .many, .dataType(.codeableConcept)),
            .init("code", .required, .dataType(.codeableConcept)),
            .init("subject", .required, .patientReference),
            .init("focus", .many, .reference([])),
            .init("encounter", .optional, .reference(["Encounter"])),
            .init("issued", .optional, .primitive(.instant)),
            .init(
                "performer", .many,
                .reference(["Practitioner", "PractitionerRole", "Organization", "CareTeam", "Patient", "RelatedPerson"])
            ),
            .init("dataAbsentReason", .optional, .dataType(.codeableConcept)),
            .init("interpretation", .many, .dataType(.codeableConcept)),
            .init("note", .many, .dataType(.annotation)),
            .init("bodySite", .optional, .dataType(.codeableConcept)),
            .init("method", .optional, .dataType(.codeableConcept)),
            .init("specimen", .optional, .reference(["Specimen"])),
            .init("device", .optional, .reference(["Device", "DeviceMetric"])),
            .init("referenceRange", .many, .backbone(observationReferenceRange)),
            .init("hasMember", .many, .reference([])),
            .init("derivedFrom", .many, .reference([])),
            .init(
                "component", .many,
                .backbone(
                    FHIRStructure(
                        [
                            .init("code", .required, .dataType(.codeableConcept)),
                            .init("dataAbsentReason", .optional, .dataType(.codeableConcept)),
                            .init("interpretation", .many, .dataType(.codeableConcept)),
                            .init("referenceRange", .many, .backbone(observationReferenceRange)),
                        ],
                        choices: [valueChoiceOfObservation], invariants: [obs6]))),
        ],
        choices: [
            FHIRChoice(
                "effective",
                [
                    ("DateTime", .primitive(.dateTime)), ("Period", .dataType(.period)), ("Timing", .object),
                    ("Instant", .primitive(.instant)),
                ]),
            valueChoiceOfObservation,
        ],
        invariants: [obs6])

    static let condition = FHIRStructure(
        [
            .init("identifier", .many, .dataType(.identifier)),
            .init("clinicalStatus", .optional, .concept(conditionClinical)),
            .init("verificationStatus", .optional, .concept(conditionVerification)),
            .init("category", .many, .dataType(.codeableConcept)),
            .init("severity", .optional, .dataType(.codeableConcept)),
            .init("code", .optional, .dataType(.codeableConcept)),
            .init("bodySite", .many, .dataType(.codeableConcept)),
            .init("subject", .required, .patientReference),
            .init("encounter", .optional, .reference(["Encounter"])),
            .init("recordedDate", .optional, .primitive(.dateTime)),
            .init("recorder", .optional, .reference(practitionerOrPatient)),
            .init("asserter", .optional, .reference(practitionerOrPatient)),
            .init(
                "stage", .many,
                .backbone(
                    FHIRStructure(
                        [
                            .init("summary", .optional, .dataType(.codeableConcept)),
                            .init(
                                "assessment", .many,
                                .reference(["ClinicalImpression", "DiagnosticReport", "Observation"])),
                            .init("type", .optional, .dataType(.codeableConcept)),
                        ],
                        invariants: [
                            FHIRInvariant(key: "con-1", rule: "a stage needs a summary or an assessment") {
                                $0[member: "summary"] != nil || $0[member: "assessment"] != nil
                            }
                        ]))),
            .init(
                "evidence", .many,
                .backbone(
                    FHIRStructure(
                        [
                            .init("code", .many, .dataType(.codeableConcept)),
                            .init("detail", .many, .reference([])),
                        ],
                        invariants: [
                            FHIRInvariant(key: "con-2", rule: "evidence needs a code or a detail") {
                                $0[member: "code"] != nil || $0[member: "detail"] != nil
                            }
                        ]))),
            .init("note", .many, .dataType(.annotation)),
        ],
        choices: [onsetChoice("onset"), onsetChoice("abatement")],
        invariants: [
            FHIRInvariant(
                key: "con-4", rule: "an abated condition needs clinicalStatus inactive, resolved or remission"
            ) { condition in
                !hasChoice(condition, onsetChoice("abatement"))
                    || hasCoding(
                        condition[member: "clinicalStatus"], system: conditionClinical.system,
                        codes: ["inactive", "resolved", "remission"])
            },
            FHIRInvariant(
                key: "con-5", rule: "clinicalStatus is not allowed when verificationStatus is entered-in-error"
            ) { condition in
                !hasCoding(
                    condition[member: "verificationStatus"], system: conditionVerification.system,
                    codes: ["entered-in-error"])
                    || condition[member: "clinicalStatus"] == nil
            },
        ])

    static let encounter = FHIRStructure([
        .init("identifier", .many, .dataType(.identifier)),
        .init("status", .required, .code(encounterStatus)),
        .init(
            "statusHistory", .many,
            .backbone(
                FHIRStructure([
                    .init("status", .required, .code(encounterStatus)),
                    .init("period", .required, .dataType(.period)),
                ]))),
        .init("class", .required, .dataType(.coding)),
        .init(
            "classHistory", .many,
            .backbone(
                FHIRStructure([
                    .init("class", .required, .dataType(.coding)),
                    .init("period", .required, .dataType(.period)),
                ]))),
        .init("type", .many, .dataType(.codeableConcept)),
        .init("serviceType", .optional, .dataType(.codeableConcept)),
        .init("priority", .optional, .dataType(.codeableConcept)),
        .init("subject", .required, .patientReference),
        .init("episodeOfCare", .many, .reference(["EpisodeOfCare"])),
        .init("basedOn", .many, .reference(["ServiceRequest"])),
        .init(
            "participant", .many,
            .backbone(
                FHIRStructure([
                    .init("type", .many, .dataType(.codeableConcept)),
                    .init("period", .optional, .dataType(.period)),
                    .init("individual", .optional, .reference(["Practitioner", "PractitionerRole", "RelatedPerson"])),
                ]))),
        .init("appointment", .many, .reference(["Appointment"])),
        .init("period", .optional, .dataType(.period)),
        .init("length", .optional, .dataType(.quantity)),
        .init("reasonCode", .many, .dataType(.codeableConcept)),
        .init("reasonReference", .many, .reference([])),
        .init(
            "diagnosis", .many,
            .backbone(
                FHIRStructure([
                    .init("condition", .required, .reference(["Condition", "Procedure"])),
                    .init("use", .optional, .dataType(.codeableConcept)),
                    .init("rank", .optional, .primitive(.positiveInt)),
                ]))),
        .init("account", .many, .reference(["Account"])),
        .init("hospitalization", .optional, .object),
        .init(
            "location", .many,
            .backbone(
                FHIRStructure([
                    .init("location", .required, .reference(["Location"])),
                    .init("status", .optional, .code(encounterLocationStatus)),
                    .init("physicalType", .optional, .dataType(.codeableConcept)),
                    .init("period", .optional, .dataType(.period)),
                ]))),
        .init("serviceProvider", .optional, .reference(["Organization"])),
        .init("partOf", .optional, .reference(["Encounter"])),
    ])

    static let allergyIntolerance = FHIRStructure(
        [
            .init("identifier", .many, .dataType(.identifier)),
            .init("clinicalStatus", .optional, .concept(allergyClinical)),
            .init("verificationStatus", .optional, .concept(allergyVerification)),
            .init("type", .optional, .code(allergyType)),
            .init("category", .many, .code(allergyCategory)),
            .init("criticality", .optional, .code(allergyCriticality)),
            .init("code", .optional, .dataType(.codeableConcept)),
            .init("patient", .required, .patientReference),
            .init("encounter", .optional, .reference(["Encounter"])),
            .init("recordedDate", .optional, .primitive(.dateTime)),
            .init("recorder", .optional, .reference(practitionerOrPatient)),
            .init("asserter", .optional, .reference(practitionerOrPatient)),
            .init("lastOccurrence", .optional, .primitive(.dateTime)),
            .init("note", .many, .dataType(.annotation)),
            .init(
                "reaction", .many,
                .backbone(
                    FHIRStructure([
                        .init("substance", .optional, .dataType(.codeableConcept)),
                        .init("manifestation", .oneOrMore, .dataType(.codeableConcept)),
                        .init("description", .optional, .primitive(.string)),
                        .init("onset", .optional, .primitive(.dateTime)),
                        .init("severity", .optional, .code(reactionSeverity)),
                        .init("exposureRoute", .optional, .dataType(.codeableConcept)),
                        .init("note", .many, .dataType(.annotation)),
                    ]))),
        ],
        choices: [onsetChoice("onset")],
        invariants: [
            FHIRInvariant(
                key: "ait-1", rule: "clinicalStatus is required unless verificationStatus is entered-in-error"
            ) { allergy in
                hasCoding(
                    allergy[member: "verificationStatus"], system: allergyVerification.system,
                    codes: ["entered-in-error"])
                    || allergy[member: "clinicalStatus"] != nil
            },
            FHIRInvariant(
                key: "ait-2", rule: "clinicalStatus is not allowed when verificationStatus is entered-in-error"
            ) { allergy in
                !hasCoding(
                    allergy[member: "verificationStatus"], system: allergyVerification.system,
                    codes: ["entered-in-error"])
                    || allergy[member: "clinicalStatus"] == nil
            },
        ])

    private static let medicationChoice = FHIRChoice(
        "medication", required: true,
        [("CodeableConcept", .dataType(.codeableConcept)), ("Reference", .reference(["Medication"]))])

    static let medicationRequest = FHIRStructure(
        [
            .init("identifier", .many, .dataType(.identifier)),
            .init("status", .required, .code(medicationRequestStatus)),
            .init("statusReason", .optional, .dataType(.codeableConcept)),
            .init("intent", .required, .code(medicationRequestIntent)),
            .init("category", .many, .dataType(.codeableConcept)),
            .init("priority", .optional, .code(requestPriority)),
            .init("doNotPerform", .optional, .primitive(.boolean)),
            .init("subject", .required, .patientReference),
            .init("encounter", .optional, .reference(["Encounter"])),
            .init("supportingInformation", .many, .reference([])),
            .init("authoredOn", .optional, .primitive(.dateTime)),
            .init("requester", .optional, .reference([])),
            .init("performer", .optional, .reference([])),
            .init("performerType", .optional, .dataType(.codeableConcept)),
            .init("recorder", .optional, .reference(["Practitioner", "PractitionerRole"])),
            .init("reasonCode", .many, .dataType(.codeableConcept)),
            .init("reasonReference", .many, .reference(["Condition", "Observation"])),
            .init("instantiatesCanonical", .many, .primitive(.canonical)),
            .init("instantiatesUri", .many, .primitive(.uri)),
            .init("basedOn", .many, .reference([])),
            .init("groupIdentifier", .optional, .dataType(.identifier)),
            .init("courseOfTherapyType", .optional, .dataType(.codeableConcept)),
            .init("insurance", .many, .reference([])),
            .init("note", .many, .dataType(.annotation)),
            .init("dosageInstruction", .many, .object),
            .init("dispenseRequest", .optional, .object),
            .init(
                "substitution", .optional,
                .backbone(
                    FHIRStructure(
                        [.init("reason", .optional, .dataType(.codeableConcept))],
                        choices: [
                            FHIRChoice(
                                "allowed", required: true,
                                [("Boolean", .primitive(.boolean)), ("CodeableConcept", .dataType(.codeableConcept))])
                        ]))),
            .init("priorPrescription", .optional, .reference(["MedicationRequest"])),
            .init("detectedIssue", .many, .reference(["DetectedIssue"])),
            .init("eventHistory", .many, .reference(["Provenance"])),
        ],
        choices: [
            FHIRChoice("reported", [("Boolean", .primitive(.boolean)), ("Reference", .reference([]))]),
            medicationChoice,
        ])

    static let medicationStatement = FHIRStructure(
        [
            .init("identifier", .many, .dataType(.identifier)),
            .init("basedOn", .many, .reference([])),
            .init("partOf", .many, .reference([])),
            .init("status", .required, .code(medicationStatementStatus)),
            .init("statusReason", .many, .dataType(.codeableConcept)),
            .init("category", .optional, .dataType(.codeableConcept)),
            .init("subject", .required, .patientReference),
            .init("context", .optional, .reference(["Encounter", "EpisodeOfCare"])),
            .init("dateAsserted", .optional, .primitive(.dateTime)),
            .init("informationSource", .optional, .reference([])),
            .init("derivedFrom", .many, .reference([])),
            .init("reasonCode", .many, .dataType(.codeableConcept)),
            .init("reasonReference", .many, .reference([])),
            .init("note", .many, .dataType(.annotation)),
            .init("dosage", .many, .object),
        ],
        choices: [
            medicationChoice,
            FHIRChoice("effective", [("DateTime", .primitive(.dateTime)), ("Period", .dataType(.period))]),
        ])

    private static let positiveIntOrString: [(suffix: String, type: FHIRElementType)] = [
        ("PositiveInt", .primitive(.positiveInt)), ("String", .primitive(.string)),
    ]

    static let immunization = FHIRStructure(
        [
            .init("identifier", .many, .dataType(.identifier)),
            .init("status", .required, .code(immunizationStatus)),
            .init("statusReason", .optional, .dataType(.codeableConcept)),
            .init("vaccineCode", .required, .dataType(.codeableConcept)),
            .init("patient", .required, .patientReference),
            .init("encounter", .optional, .reference(["Encounter"])),
            .init("recorded", .optional, .primitive(.dateTime)),
            .init("primarySource", .optional, .primitive(.boolean)),
            .init("reportOrigin", .optional, .dataType(.codeableConcept)),
            .init("location", .optional, .reference(["Location"])),
            .init("manufacturer", .optional, .reference(["Organization"])),
            .init("lotNumber", .optional, .primitive(.string)),
            .init("expirationDate", .optional, .primitive(.date)),
            .init("site", .optional, .dataType(.codeableConcept)),
            .init("route", .optional, .dataType(.codeableConcept)),
            .init("doseQuantity", .optional, .dataType(.simpleQuantity)),
            .init(
                "performer", .many,
                .backbone(
                    FHIRStructure([
                        .init("function", .optional, .dataType(.codeableConcept)),
                        .init("actor", .required, .reference(["Practitioner", "PractitionerRole", "Organization"])),
                    ]))),
            .init("note", .many, .dataType(.annotation)),
            .init("reasonCode", .many, .dataType(.codeableConcept)),
            .init("reasonReference", .many, .reference(["Condition", "Observation", "DiagnosticReport"])),
            .init("isSubpotent", .optional, .primitive(.boolean)),
            .init("subpotentReason", .many, .dataType(.codeableConcept)),
            .init(
                "education", .many,
                .backbone(
                    FHIRStructure([
                        .init("documentType", .optional, .primitive(.string)),
                        .init("reference", .optional, .primitive(.uri)),
                        .init("publicationDate", .optional, .primitive(.dateTime)),
                        .init("presentationDate", .optional, .primitive(.dateTime)),
                    ]))),
            .init("programEligibility", .many, .dataType(.codeableConcept)),
            .init("fundingSource", .optional, .dataType(.codeableConcept)),
            .init(
                "reaction", .many,
                .backbone(
                    FHIRStructure([
                        .init("date", .optional, .primitive(.dateTime)),
                        .init("detail", .optional, .reference(["Observation"])),
                        .init("reported", .optional, .primitive(.boolean)),
                    ]))),
            .init(
                "protocolApplied", .many,
                .backbone(
                    FHIRStructure(
                        [
                            .init("series", .optional, .primitive(.string)),
                            .init("authority", .optional, .reference(["Organization"])),
                            .init("targetDisease", .many, .dataType(.codeableConcept)),
                        ],
                        choices: [
                            FHIRChoice("doseNumber", required: true, positiveIntOrString),
                            FHIRChoice("seriesDoses", positiveIntOrString),
                        ]))),
        ],
        choices: [
            FHIRChoice(
                "occurrence", required: true, [("DateTime", .primitive(.dateTime)), ("String", .primitive(.string))])
        ])

    static let procedure = FHIRStructure(
        [
            .init("identifier", .many, .dataType(.identifier)),
            .init("instantiatesCanonical", .many, .primitive(.canonical)),
            .init("instantiatesUri", .many, .primitive(.uri)),
            .init("basedOn", .many, .reference([])),
            .init("partOf", .many, .reference([])),
            .init("status", .required, .code(eventStatus)),
            .init("statusReason", .optional, .dataType(.codeableConcept)),
            .init("category", .optional, .dataType(.codeableConcept)),
            .init("code", .optional, .dataType(.codeableConcept)),
            .init("subject", .required, .patientReference),
            .init("encounter", .optional, .reference(["Encounter"])),
            .init("recorder", .optional, .reference(practitionerOrPatient)),
            .init("asserter", .optional, .reference(practitionerOrPatient)),
            .init(
                "performer", .many,
                .backbone(
                    FHIRStructure([
                        .init("function", .optional, .dataType(.codeableConcept)),
                        .init("actor", .required, .reference([])),
                        .init("onBehalfOf", .optional, .reference(["Organization"])),
                    ]))),
            .init("location", .optional, .reference(["Location"])),
            .init("reasonCode", .many, .dataType(.codeableConcept)),
            .init("reasonReference", .many, .reference([])),
            .init("bodySite", .many, .dataType(.codeableConcept)),
            .init("outcome", .optional, .dataType(.codeableConcept)),
            .init("report", .many, .reference([])),
            .init("complication", .many, .dataType(.codeableConcept)),
            .init("complicationDetail", .many, .reference(["Condition"])),
            .init("followUp", .many, .dataType(.codeableConcept)),
            .init("note", .many, .dataType(.annotation)),
            .init(
                "focalDevice", .many,
                .backbone(
                    FHIRStructure([
                        .init("action", .optional, .dataType(.codeableConcept)),
                        .init("manipulated", .required, .reference(["Device"])),
                    ]))),
            .init("usedReference", .many, .reference([])),
            .init("usedCode", .many, .dataType(.codeableConcept)),
        ],
        choices: [
            FHIRChoice(
                "performed",
                [
                    ("DateTime", .primitive(.dateTime)), ("Period", .dataType(.period)),
                    ("String", .primitive(.string)),
                    ("Age", .dataType(.quantity)), ("Range", .dataType(.range)),
                ])
        ])

    private static let diagnosticPerformers = ["Practitioner", "PractitionerRole", "Organization", "CareTeam"]

    static let diagnosticReport = FHIRStructure(
        [
            .init("identifier", .many, .dataType(.identifier)),
            .init("basedOn", .many, .reference([])),
            .init("status", .required, .code(diagnosticReportStatus)),
            .init("category", .many, .dataType(.codeableConcept)),
            .init("code", .required, .dataType(.codeableConcept)),
            .init("subject", .required, .patientReference),
            .init("encounter", .optional, .reference(["Encounter"])),
            .init("issued", .optional, .primitive(.instant)),
            .init("performer", .many, .reference(diagnosticPerformers)),
            .init("resultsInterpreter", .many, .reference(diagnosticPerformers)),
            .init("specimen", .many, .reference(["Specimen"])),
            .init("result", .many, .reference(["Observation"])),
            .init("imagingStudy", .many, .reference(["ImagingStudy"])),
            .init(
                "media", .many,
                .backbone(
                    FHIRStructure([
                        .init("comment", .optional, .primitive(.string)),
                        .init("link", .required, .reference(["Media"])),
                    ]))),
            .init("conclusion", .optional, .primitive(.string)),
            .init("conclusionCode", .many, .dataType(.codeableConcept)),
            .init("presentedForm", .many, .dataType(.attachment)),
        ],
        choices: [FHIRChoice("effective", [("DateTime", .primitive(.dateTime)), ("Period", .dataType(.period))])])

    static let documentReference = FHIRStructure([
        .init("masterIdentifier", .optional, .dataType(.identifier)),
        .init("identifier", .many, .dataType(.identifier)),
        .init("status", .required, .code(documentReferenceStatus)),
        .init("docStatus", .optional, .code(compositionStatus)),
        .init("type", .optional, .dataType(.codeableConcept)),
        .init("category", .many, .dataType(.codeableConcept)),
        .init("subject", .required, .patientReference),
        .init("date", .optional, .primitive(.instant)),
        .init("author", .many, .reference([])),
        .init("authenticator", .optional, .reference([])),
        .init("custodian", .optional, .reference(["Organization"])),
        .init(
            "relatesTo", .many,
            .backbone(
                FHIRStructure([
                    .init("code", .required, .code(documentRelationshipType)),
                    .init("target", .required, .reference(["DocumentReference"])),
                ]))),
        .init("description", .optional, .primitive(.string)),
        .init("securityLabel", .many, .dataType(.codeableConcept)),
        .init(
            "content", .oneOrMore,
            .backbone(
                FHIRStructure([
                    .init("attachment", .required, .dataType(.attachment)),
                    .init("format", .optional, .dataType(.coding)),
                ]))),
        .init(
            "context", .optional,
            .backbone(
                FHIRStructure([
                    .init("encounter", .many, .reference(["Encounter", "EpisodeOfCare"])),
                    .init("event", .many, .dataType(.codeableConcept)),
                    .init("period", .optional, .dataType(.period)),
                    .init("facilityType", .optional, .dataType(.codeableConcept)),
                    .init("practiceSetting", .optional, .dataType(.codeableConcept)),
                    .init("sourcePatientInfo", .optional, .reference(["Patient"])),
                    .init("related", .many, .reference([])),
                ]))),
    ])

    private static let bundleLink = FHIRStructure([
        .init("relation", .required, .primitive(.string)),
        .init("url", .required, .primitive(.uri)),
    ])

    /// Bundle's element rules; the rules across entries (bdl-1 to bdl-12, one patient, entry
    /// count) are `FHIRValidator.checkBundle`.
    static let bundle = FHIRStructure([
        .init("identifier", .optional, .dataType(.identifier)),
        .init("type", .required, .code(bundleType)),
        .init("timestamp", .optional, .primitive(.instant)),
        .init("total", .optional, .primitive(.unsignedInt)),
        .init("link", .many, .backbone(bundleLink)),
        .init(
            "entry", .many,
            .backbone(
                FHIRStructure([
                    .init("link", .many, .backbone(bundleLink)),
                    .init("fullUrl", .optional, .primitive(.uri)),
                    .init("resource", .optional, .entryResource),
                    .init(
                        "search", .optional,
                        .backbone(
                            FHIRStructure([
                                .init("mode", .optional, .code(searchEntryMode)),
                                .init("score", .optional, .primitive(.decimal)),
                            ]))),
                    .init(
                        "request", .optional,
                        .backbone(
                            FHIRStructure([
                                .init("method", .required, .code(httpVerb)),
                                .init("url", .required, .primitive(.uri)),
                                .init("ifNoneMatch", .optional, .primitive(.string)),
                                .init("ifModifiedSince", .optional, .primitive(.instant)),
                                .init("ifMatch", .optional, .primitive(.string)),
                                .init("ifNoneExist", .optional, .primitive(.string)),
                            ]))),
                    .init(
                        "response", .optional,
                        .backbone(
                            FHIRStructure([
                                .init("status", .required, .primitive(.string)),
                                .init("location", .optional, .primitive(.uri)),
                                .init("etag", .optional, .primitive(.string)),
                                .init("lastModified", .optional, .primitive(.instant)),
                                .init("outcome", .optional, .object),
                            ]))),
                ]))),
        .init("signature", .optional, .object),
    ])
}
