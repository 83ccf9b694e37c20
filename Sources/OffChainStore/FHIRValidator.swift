import Crypto
import Foundation

/// Walks a parsed record against `FHIRRules`: known elements by their rules, every other value by
/// FHIR JSON's general rules. Recursion follows the JSON nesting, which the parser bounds.
struct FHIRValidator {
    struct Checked {
        let resourceType: String
        let id: String
        let patient: String
        let patientElement: String
    }

    typealias Members = JSONValue.Members

    /// One step of the path to the element being checked. Only names from the rule tables are
    /// printed; other members are named by their position, as their names are the record's.
    private enum PathComponent {
        case name(String)
        case index(Int)
        case member(Int)
    }

    private var path: [PathComponent] = []
    /// The patient named by the resource being checked, and where.
    private var patient: (personID: String, element: String)?
    /// The ids of the resource's contained resources (targets of `#id` references).
    private var containedIDs: [String] = []
    /// Bundle entries' patients: the entry's path and its person id.
    private var entryPatients: [(entry: String, personID: String)] = []

    /// Checks a whole record and returns what `FHIRResource` keeps.
    static func checkRecord(_ value: JSONValue) throws(OffChainStoreError) -> Checked {
        guard case .object(let members) = value else {
            throw OffChainStoreError(.invalidArgument, "the record is not a JSON object (a FHIR resource)")
        }
        guard let typeValue = value[member: "resourceType"], case .string(let type) = typeValue else {
            throw OffChainStoreError(.invalidArgument, "the record has no resourceType (a FHIR resource type name)")
        }
        guard let rule = FHIRRules.resources.first(where: { $0.type.utf8.elementsEqual(type.utf8) }) else {
            throw OffChainStoreError(
                .invalidArgument,
                "the record's resourceType is not one Medrex accepts: \(FHIRResource.supportedTypes.joined(separator: ", "))"
            )
        }
        guard let idValue = value[member: "id"] else {
            throw OffChainStoreError(.invalidArgument, "\(rule.type).id is required (a record has an id)")
        }
        guard case .string(let id) = idValue, FHIRSyntax.isID(id) else {
            throw OffChainStoreError(
                .invalidArgument, "\(rule.type).id must be a FHIR id (1 to 64 of A-Z, a-z, 0-9, '-', '.')")
        }
        var validator = FHIRValidator()
        validator.path = [.name(rule.type)]
        let found =
            rule.type == "Bundle"
            ? try validator.checkBundle(members, rule.structure)
            : try validator.checkResource(members, type: rule.type, rule.structure)
        return Checked(resourceType: rule.type, id: id, patient: found.personID, patientElement: found.element)
    }

    // MARK: Errors and paths

    private var pathText: String { Self.text(of: path) }

    /// `Observation.component[1].code`, `Observation.(member 7)`.
    private static func text(of path: some Sequence<PathComponent>) -> String {
        var text = ""
        for component in path {
            switch component {
            case .name(let name): text += text.isEmpty ? name : "." + name
            case .index(let index): text += "[\(index)]"
            case .member(let position): text += ".(member \(position))"
            }
        }
        return text
    }

    /// A refusal of the element at the current path: "`path` `rule`".
    private func refusal(_ rule: String) -> OffChainStoreError {
        OffChainStoreError(.invalidArgument, "\(pathText) \(rule)")
    }

    /// Runs `body` with `component` appended to the path.
    private mutating func at<Result>(
        _ component: PathComponent, _ body: (inout FHIRValidator) throws(OffChainStoreError) -> Result
    ) throws(OffChainStoreError) -> Result {
        path.append(component)
        defer { path.removeLast() }
        return try body(&self)
    }

    // MARK: Resources

    /// Checks a resource other than a Bundle and returns the patient it names.
    private mutating func checkResource(
        _ members: Members, type: String, _ structure: FHIRStructure
    ) throws(OffChainStoreError) -> (personID: String, element: String) {
        let outer = (patient, containedIDs)
        defer { (patient, containedIDs) = outer }
        patient = nil
        containedIDs = Self.containedResourceIDs(members)
        try checkObject(members, structure, common: FHIRRules.domainResourceElements)
        if type == "Patient" {
            return try patientFromIdentifiers(members)
        }
        guard let patient else {
            // Unreachable: every non-Patient structure has a required `.patientReference`.
            throw refusal("does not name its patient")
        }
        return patient
    }

    private static func containedResourceIDs(_ members: Members) -> [String] {
        let contained = JSONValue.object(members)[member: "contained"]?.arrayValue ?? []
        return contained.compactMap { $0[member: "id"]?.stringValue }
    }

    /// A Patient names itself: its `identifier` entries with system `urn:medrex:person` must agree.
    private mutating func patientFromIdentifiers(
        _ members: Members
    ) throws(OffChainStoreError) -> (personID: String, element: String) {
        try at(.name("identifier")) { (validator) throws(OffChainStoreError) in
            let identifiers = JSONValue.object(members)[member: "identifier"]?.arrayValue ?? []
            var found: (index: Int, personID: String)?
            for (index, identifier) in identifiers.enumerated() {
                guard let system = identifier[member: "system"]?.stringValue,
                    system.utf8.elementsEqual(FHIRResource.personIdentifierSystem.utf8)
                else { continue }
                let personID = try validator.at(.index(index)) { (validator) throws(OffChainStoreError) in
                    try validator.at(.name("value")) { (validator) throws(OffChainStoreError) in
                        try validator.personID(identifier[member: "value"])
                    }
                }
                if let found, !found.personID.utf8.elementsEqual(personID.utf8) {
                    throw validator.refusal(
                        "entries [\(found.index)] and [\(index)] (system \(FHIRResource.personIdentifierSystem)) name different persons"
                    )
                }
                found = found ?? (index, personID)
            }
            guard let found else {
                throw validator.refusal(
                    "must include an identifier with system \(FHIRResource.personIdentifierSystem) naming the patient")
            }
            return (found.personID, validator.pathText)
        }
    }

    /// A Medrex person id: an MSP id (1 to 64 of A-Z a-z 0-9 . _ -), '/', then one or more
    /// printable ASCII characters, at most `FHIRResource.personIDBytesMax` bytes in all.
    private func personID(_ value: JSONValue?) throws(OffChainStoreError) -> String {
        guard let value else { throw refusal("is required (a Medrex person id)") }
        guard case .string(let personID) = value, FHIRSyntax.isPersonID(personID) else {
            throw refusal(
                "must be a Medrex person id: '<MSP id>/<certificate common name>', printable ASCII, at most \(FHIRResource.personIDBytesMax) bytes"
            )
        }
        return personID
    }

    // MARK: Bundle

    /// Checks a Bundle (R4's bdl-1 to bdl-12, entries' resources) and returns its one patient.
    private mutating func checkBundle(
        _ members: Members, _ structure: FHIRStructure
    ) throws(OffChainStoreError) -> (personID: String, element: String) {
        let bundle = JSONValue.object(members)
        let entries = bundle[member: "entry"]?.arrayValue ?? []
        guard entries.count <= FHIRResource.bundleEntryCountMax else {
            throw try at(.name("entry")) { validator in
                validator.refusal("has more than \(FHIRResource.bundleEntryCountMax) entries")
            }
        }
        let type = bundle[member: "type"]?.stringValue ?? ""
        if type == "document" || type == "message" {
            let first = type == "document" ? "Composition (bdl-11)" : "MessageHeader (bdl-12)"
            throw refusal("of type \(type) must start with a \(first), which Medrex does not accept as a record")
        }
        try checkObject(members, structure, common: FHIRRules.resourceElements)
        try checkBundleInvariants(bundle, type: type, entries: entries)
        guard let first = entryPatients.first else {
            throw refusal("has no entry with a resource: a record must name its patient")
        }
        if let other = entryPatients.first(where: { !$0.personID.utf8.elementsEqual(first.personID.utf8) }) {
            throw OffChainStoreError(
                .invalidArgument,
                "\(first.entry) and \(other.entry) name different patients: a record is about one patient")
        }
        return (first.personID, "\(first.entry).resource")
    }

    private func checkBundleInvariants(_ bundle: JSONValue, type: String, entries: [JSONValue])
        throws(OffChainStoreError)
    {
        if bundle[member: "total"] != nil, type != "searchset", type != "history" {
            throw refusal("breaks bdl-1: total is only allowed in a searchset or history Bundle")
        }
        let requestRequired = ["batch", "transaction", "history"].contains(type)
        let responseRequired = ["batch-response", "transaction-response", "history"].contains(type)
        var fullURLs: [[UInt8]: (index: Int, versionID: String?)] = [:]
        for (index, entry) in entries.enumerated() {
            let entryPath = "Bundle.entry[\(index)]"
            func broken(_ rule: String) -> OffChainStoreError {
                OffChainStoreError(.invalidArgument, "\(entryPath) breaks \(rule)")
            }
            if entry[member: "search"] != nil, type != "searchset" {
                throw broken("bdl-2: search is only allowed in a searchset Bundle")
            }
            if (entry[member: "request"] != nil) != requestRequired {
                throw broken(
                    "bdl-3: request is required in a batch, transaction or history Bundle and not allowed in others")
            }
            if (entry[member: "response"] != nil) != responseRequired {
                throw broken(
                    "bdl-4: response is required in a batch-response, transaction-response or history Bundle and not allowed in others"
                )
            }
            if entry[member: "resource"] == nil, entry[member: "request"] == nil, entry[member: "response"] == nil {
                throw broken("bdl-5: an entry needs a resource, a request or a response")
            }
            guard let fullURL = entry[member: "fullUrl"]?.stringValue else { continue }
            if fullURL.contains("/_history/") {
                throw broken("bdl-8: fullUrl must not be version specific")
            }
            let versionID = entry[member: "resource"]?[member: "meta"]?[member: "versionId"]?.stringValue
            let key = Array(fullURL.utf8)
            if type != "history", let earlier = fullURLs[key] {
                guard let versionID, let earlierVersion = earlier.versionID, versionID != earlierVersion else {
                    throw broken(
                        "bdl-7: its fullUrl is also entry [\(earlier.index)]'s (same fullUrl needs different meta.versionId)"
                    )
                }
            }
            fullURLs[key] = (index, versionID)
        }
    }

    /// `Bundle.entry.resource`: one of the supported types other than Bundle, checked in full.
    private mutating func checkEntryResource(_ value: JSONValue) throws(OffChainStoreError) {
        let members = try objectMembers(value, "a FHIR resource")
        let supported = FHIRRules.resources.filter { $0.type != "Bundle" }
        let typeValue = value[member: "resourceType"]
        guard let type = typeValue?.stringValue,
            let rule = supported.first(where: { $0.type.utf8.elementsEqual(type.utf8) })
        else {
            throw try at(.name("resourceType")) { validator in
                validator.refusal(
                    "must be one of: \(supported.map(\.type).joined(separator: ", ")) (a Bundle inside a Bundle is not accepted)"
                )
            }
        }
        let found = try checkResource(members, type: rule.type, rule.structure)
        entryPatients.append((Self.text(of: path.dropLast()), found.personID))  // Bundle.entry[i]
    }

    // MARK: Structures

    /// Checks the members of an object against `structure` (plus `common` elements): each known
    /// element by its rule, every other member by the general rules; then required elements,
    /// choice elements and invariants.
    private mutating func checkObject(
        _ members: Members, _ structure: FHIRStructure,
        common: [FHIRElement] = FHIRRules.elementElements
    ) throws(OffChainStoreError) {
        for (position, member) in members.enumerated() {
            if path.count == 1 || isResourceRoot, member.name.utf8.elementsEqual("resourceType".utf8) { continue }
            if let element = Self.element(named: member.name, in: structure, common: common) {
                try at(.name(element.name)) { (validator) throws(OffChainStoreError) in
                    try validator.checkElement(member.value, element, aligned: (member.name, members))
                }
            } else {
                try at(.member(position)) { (validator) throws(OffChainStoreError) in
                    try validator.checkGeneral(member.value, aligned: (member.name, members))
                }
            }
        }
        let object = JSONValue.object(members)
        for element in structure.elements where element.cardinality.isRequired && object[member: element.name] == nil {
            throw try at(.name(element.name)) { validator in
                validator.refusal(
                    element.type.isPatientReference
                        ? "is required: a record names its patient by an identifier with system \(FHIRResource.personIdentifierSystem)"
                        : "is required")
            }
        }
        for choice in structure.choices {
            let present = choice.variants.filter { object[member: $0.name] != nil }
            if present.count > 1 {
                throw try at(.name(choice.name + "[x]")) { validator in
                    validator.refusal("has more than one variant: \(present.map(\.name).joined(separator: ", "))")
                }
            }
            if choice.isRequired, present.isEmpty {
                throw try at(.name(choice.name + "[x]")) { validator in
                    validator.refusal("is required (one of: \(choice.variantNames))")
                }
            }
        }
        for invariant in structure.invariants where !invariant.holds(object) {
            throw refusal("breaks \(invariant.key): \(invariant.rule)")
        }
    }

    /// Whether the path ends at a resource (the record, an entry's resource): where
    /// `resourceType` is a member rather than an element.
    private var isResourceRoot: Bool {
        guard case .name(let last) = path.last else { return false }
        return last == "resource"
    }

    private static func element(named name: String, in structure: FHIRStructure, common: [FHIRElement]) -> FHIRElement?
    {
        func matches(_ element: FHIRElement) -> Bool { element.name.utf8.elementsEqual(name.utf8) }
        if let element = structure.elements.first(where: matches) { return element }
        for choice in structure.choices {
            if let variant = choice.variants.first(where: matches) { return variant }
        }
        return common.first(where: matches)
    }

    /// An array member's name and its object's members: where to look for its aligned partner.
    private typealias Alignment = (name: String, siblings: Members)

    /// Whether item `index` of an array of `count` items may be null: FHIR JSON aligns an array
    /// of primitives `name` with the array `_name` of their extensions (and back), and a null
    /// stands for "nothing here" in one of them, never in both.
    private static func nullAllowed(at index: Int, count: Int, aligned: Alignment?) -> Bool {
        guard let aligned else { return false }
        let name = aligned.name
        let partnerName = name.hasPrefix("_") ? String(name.dropFirst()) : "_" + name
        guard let partner = JSONValue.object(aligned.siblings)[member: partnerName]?.arrayValue,
            partner.count == count, index < partner.count
        else { return false }
        if case .null = partner[index] { return false }
        return true
    }

    private mutating func checkElement(_ value: JSONValue, _ element: FHIRElement, aligned: Alignment)
        throws(OffChainStoreError)
    {
        guard element.cardinality.repeats else {
            if case .array = value { throw refusal("must not be an array (it does not repeat)") }
            try checkValue(value, element.type)
            return
        }
        guard case .array(let items) = value else { throw refusal("must be an array (it repeats)") }
        guard !items.isEmpty else { throw refusal("is an empty array (FHIR has no empty elements)") }
        for (index, item) in items.enumerated() {
            if case .null = item, Self.nullAllowed(at: index, count: items.count, aligned: aligned) { continue }
            try at(.index(index)) { (validator) throws(OffChainStoreError) in
                try validator.checkValue(item, element.type)
            }
        }
    }

    private mutating func checkValue(_ value: JSONValue, _ type: FHIRElementType) throws(OffChainStoreError) {
        if case .null = value { throw refusal("is null (FHIR JSON has no null values)") }
        switch type {
        case .primitive(let primitive):
            try checkPrimitive(value, primitive)
        case .code(let valueSet):
            try checkPrimitive(value, .code)
            if let code = value.stringValue, !valueSet.contains(code) {
                throw refusal("must be one of: \(valueSet.listed)")
            }
        case .concept(let valueSet):
            try checkObject(try objectMembers(value, "a CodeableConcept"), FHIRRules.codeableConcept)
            try checkBinding(value, valueSet)
        case .dataType(let dataType):
            try checkObject(try objectMembers(value, "an object (a FHIR \(dataType))"), dataType.structure)
        case .reference(let targets):
            try checkReference(value, targets: targets)
        case .patientReference:
            try checkPatientReference(value)
        case .backbone(let structure):
            try checkObject(try objectMembers(value, "an object"), structure)
        case .object:
            _ = try objectMembers(value, "an object")
            try checkGeneral(value, aligned: nil)
        case .entryResource:
            try checkEntryResource(value)
        case .containedResource:
            try checkContained(value)
        }
    }

    /// The members of a non-empty object, or a refusal saying what the element should be.
    private func objectMembers(_ value: JSONValue, _ what: String) throws(OffChainStoreError) -> Members {
        guard case .object(let members) = value else { throw refusal("must be \(what)") }
        guard !members.isEmpty else { throw refusal("is an empty object (FHIR has no empty elements)") }
        return members
    }

    /// A required binding on a CodeableConcept: a coding from the value set's system, and every
    /// coding of that system with one of its codes.
    private func checkBinding(_ concept: JSONValue, _ valueSet: FHIRValueSet) throws(OffChainStoreError) {
        let codings = concept[member: "coding"]?.arrayValue ?? []
        var bound = false
        for (index, coding) in codings.enumerated() {
            guard let system = coding[member: "system"]?.stringValue, system.utf8.elementsEqual(valueSet.system.utf8)
            else { continue }
            guard let code = coding[member: "code"]?.stringValue, valueSet.contains(code) else {
                throw OffChainStoreError(
                    .invalidArgument, "\(pathText).coding[\(index)].code must be one of: \(valueSet.listed)")
            }
            bound = true
        }
        guard bound else {
            throw refusal("must have a coding with system \(valueSet.system) and one of: \(valueSet.listed)")
        }
    }

    /// `contained`: an inline resource with a resourceType and an id (R4: dom-2, dom-4, dom-5).
    /// Its other content is checked by the general rules only.
    private mutating func checkContained(_ value: JSONValue) throws(OffChainStoreError) {
        _ = try objectMembers(value, "a FHIR resource")
        guard let type = value[member: "resourceType"]?.stringValue, FHIRSyntax.isTypeName(type) else {
            throw refusal("must have a resourceType")
        }
        guard let id = value[member: "id"]?.stringValue, FHIRSyntax.isID(id) else {
            throw refusal("must have an id (1 to 64 of A-Z, a-z, 0-9, '-', '.') to be referenced")
        }
        if value[member: "contained"] != nil {
            throw refusal("breaks dom-2: a contained resource has no contained resources")
        }
        if let meta = value[member: "meta"], meta[member: "versionId"] != nil || meta[member: "lastUpdated"] != nil {
            throw refusal("breaks dom-4: a contained resource has no meta.versionId or meta.lastUpdated")
        }
        if value[member: "meta"]?[member: "security"] != nil {
            throw refusal("breaks dom-5: a contained resource has no security label")
        }
        try checkGeneral(value, aligned: nil)
    }

    // MARK: References

    /// Whether `names` contains `name`, compared by UTF-8 bytes (not Swift's canonical
    /// equivalence, under which U+212A KELVIN SIGN equals "K").
    private static func names(_ names: [String], contain name: String) -> Bool {
        names.contains { $0.utf8.elementsEqual(name.utf8) }
    }

    /// A Reference to one of `targets` (any type when empty). Its `reference` must be a FHIR
    /// reference (`FHIRSyntax.referenceTarget`); `#id` must name a contained resource (ref-1).
    private mutating func checkReference(_ value: JSONValue, targets: [String]) throws(OffChainStoreError) {
        try checkObject(try objectMembers(value, "an object (a FHIR Reference)"), FHIRRules.reference)
        let target = try referenceTarget(value)
        let allowed = targets.joined(separator: " or ")
        if case .resource(let type) = target, !targets.isEmpty, !Self.names(targets, contain: type) {
            throw try at(.name("reference")) { validator in
                validator.refusal("must reference a resource of type \(allowed)")
            }
        }
        if case .contained(let id) = target, !Self.names(containedIDs, contain: id) {
            throw try at(.name("reference")) { validator in
                validator.refusal("breaks ref-1: it names no contained resource")
            }
        }
        if let type = value[member: "type"]?.stringValue {
            try at(.name("type")) { (validator) throws(OffChainStoreError) in
                if !targets.isEmpty, !Self.names(targets, contain: type) {
                    throw validator.refusal("must be \(allowed)")
                }
                if case .resource(let referenced) = target, !referenced.utf8.elementsEqual(type.utf8) {
                    throw validator.refusal("does not match the resource type of reference")
                }
            }
        }
    }

    /// The parsed `reference` of a Reference, or nil when it has none.
    private func referenceTarget(_ reference: JSONValue) throws(OffChainStoreError) -> FHIRSyntax.ReferenceTarget? {
        guard let text = reference[member: "reference"]?.stringValue else { return nil }
        guard let target = FHIRSyntax.referenceTarget(text) else {
            throw OffChainStoreError(
                .invalidArgument,
                "\(pathText).reference must be a FHIR reference: Type/id, an http(s) URL ending in Type/id, urn:uuid:, urn:oid: or #id"
            )
        }
        return target
    }

    /// The element naming the record's patient: a Reference with an identifier of system
    /// `urn:medrex:person` whose value is a person id; its `reference`, if any, to a Patient (not
    /// a contained one) and its `type`, if any, Patient.
    private mutating func checkPatientReference(_ value: JSONValue) throws(OffChainStoreError) {
        try checkObject(try objectMembers(value, "an object (a FHIR Reference to the patient)"), FHIRRules.reference)
        switch try referenceTarget(value) {
        case .resource(let type) where !type.utf8.elementsEqual("Patient".utf8):
            throw try at(.name("reference")) { validator in validator.refusal("must reference a Patient") }
        case .contained:
            throw try at(.name("reference")) { validator in
                validator.refusal("must not be a contained reference (#id): the patient is a person Medrex knows")
            }
        default: break
        }
        if let type = value[member: "type"]?.stringValue, !type.utf8.elementsEqual("Patient".utf8) {
            throw try at(.name("type")) { validator in validator.refusal("must be Patient") }
        }
        let personID = try at(.name("identifier")) { (validator) throws(OffChainStoreError) -> String in
            guard let identifier = value[member: "identifier"] else {
                throw validator.refusal(
                    "is required: a record names its patient by an identifier with system \(FHIRResource.personIdentifierSystem)"
                )
            }
            let system = identifier[member: "system"]?.stringValue
            guard let system, system.utf8.elementsEqual(FHIRResource.personIdentifierSystem.utf8) else {
                throw try validator.at(.name("system")) { validator in
                    validator.refusal("must be \(FHIRResource.personIdentifierSystem)")
                }
            }
            return try validator.at(.name("value")) { (validator) throws(OffChainStoreError) in
                try validator.personID(identifier[member: "value"])
            }
        }
        patient = (personID, Self.text(of: path + [.name("identifier")]))
    }

    // MARK: Primitives and general rules

    private func checkPrimitive(_ value: JSONValue, _ primitive: FHIRPrimitive) throws(OffChainStoreError) {
        switch primitive {
        case .boolean:
            guard case .bool = value else { throw refusal("must be true or false (a FHIR boolean)") }
        case .decimal:
            guard case .number = value else { throw refusal("must be a number (a FHIR decimal)") }
        case .integer, .positiveInt, .unsignedInt:
            guard case .number(let number) = value, let integer = Int32(exactly: number) else {
                throw refusal("must be a whole number within 32 bits (a FHIR \(primitive))")
            }
            if primitive == .positiveInt, integer < 1 { throw refusal("must be at least 1 (a FHIR positiveInt)") }
            if primitive == .unsignedInt, integer < 0 { throw refusal("must not be negative (a FHIR unsignedInt)") }
        default:
            guard case .string(let text) = value else { throw refusal("must be a string (a FHIR \(primitive))") }
            guard !text.utf8.isEmpty else { throw refusal("is an empty string (FHIR has no empty elements)") }
            if let syntax = FHIRSyntax.rule(primitive), !FHIRSyntax.holds(primitive, text) {
                throw refusal("must be \(syntax)")
            }
        }
    }

    /// FHIR JSON's general rules, for values Medrex has no rule for: no null (except where an
    /// array of primitives is aligned with its `_name` partner), no empty string, array or
    /// object, all the way down.
    private mutating func checkGeneral(_ value: JSONValue, aligned: Alignment?) throws(OffChainStoreError) {
        switch value {
        case .null:
            throw refusal("is null (FHIR JSON has no null values)")
        case .string(let text) where text.utf8.isEmpty:
            throw refusal("is an empty string (FHIR has no empty elements)")
        case .array(let items):
            guard !items.isEmpty else { throw refusal("is an empty array (FHIR has no empty elements)") }
            for (index, item) in items.enumerated() {
                if case .null = item, Self.nullAllowed(at: index, count: items.count, aligned: aligned) { continue }
                try at(.index(index)) { (validator) throws(OffChainStoreError) in
                    try validator.checkGeneral(item, aligned: nil)
                }
            }
        case .object(let members):
            guard !members.isEmpty else { throw refusal("is an empty object (FHIR has no empty elements)") }
            for (position, member) in members.enumerated() {
                try at(.member(position)) { (validator) throws(OffChainStoreError) in
                    try validator.checkGeneral(member.value, aligned: (member.name, members))
                }
            }
        default:
            break
        }
    }
}

extension FHIRElementType {
    fileprivate var isPatientReference: Bool {
        if case .patientReference = self { true } else { false }
    }
}
