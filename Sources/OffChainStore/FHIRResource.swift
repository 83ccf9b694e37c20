import Crypto
import Foundation

/// A PHI record as Medrex accepts it: one FHIR R4 resource in JSON, of a type Medrex supports,
/// that names its patient by a Medrex person id, checked against R4's rules (`FHIRRules`) and
/// held in its RFC 8785 canonical form. The canonical form is what is encrypted and what the
/// chain's anchor hashes, so the client and the custodian compute the same SHA-256 from the same
/// resource however it was formatted.
///
/// Refusals name the element (`Observation.status`, `Bundle.entry[3].resource.subject.identifier`)
/// and the rule broken, never a value from the record: the record is PHI. Elements Medrex does not
/// know are allowed and appear in messages by position only (`Observation.(member 7)`).
package struct FHIRResource: Sendable {
    /// The identifier system of Medrex person ids (`<MSP id>/<certificate CN>`).
    package static let personIdentifierSystem = "urn:medrex:person"
    /// The resource types a record may be: 11 clinical types and a Bundle of them.
    package static let supportedTypes: [String] = FHIRRules.resources.map(\.type)
    /// Entries in one Bundle.
    package static let bundleEntryCountMax = 10_000
    /// A person id's UTF-8 length.
    package static let personIDBytesMax = 256

    package let resourceType: String
    package let id: String
    /// The Medrex person id (`<MSP id>/<certificate CN>`) of the patient the record is about.
    package let patient: String
    /// RFC 8785 canonical JSON bytes: what is encrypted and what the chain's anchor hashes.
    package let canonical: Data
    /// The element that names the patient (`Observation.subject.identifier`), for messages.
    let patientElement: String

    /// Parses and checks `json`. Throws `.invalidArgument` for every refusal: larger than
    /// `OffChainStoreLimits.plaintextBytesMax`, not strict I-JSON (`JSONValue(parsing:)`), not a
    /// JSON object, a `resourceType` Medrex does not accept, no valid `id`, or a broken FHIR rule
    /// (`FHIRValidator`): a null or empty value, a missing required element, a code outside its
    /// required value set, a malformed date or reference, two variants of one choice element, a
    /// broken invariant, no patient named by a `urn:medrex:person` identifier, or a Bundle whose
    /// entries name different patients.
    package init(json: Data) throws(OffChainStoreError) {
        guard json.count <= OffChainStoreLimits.plaintextBytesMax else {
            throw OffChainStoreError(
                .invalidArgument, "the record is larger than \(OffChainStoreLimits.plaintextBytesMax) bytes")
        }
        let value = try JSONValue(parsing: json)
        let checked = try FHIRValidator.checkRecord(value)
        resourceType = checked.resourceType
        id = checked.id
        patient = checked.patient
        patientElement = checked.patientElement
        canonical = try CanonicalJSON.data(value)
    }

    /// Throws `.invalidArgument` when the record's patient is not `personID` (the message names
    /// the element, never either value).
    package func requirePatient(_ personID: String) throws(OffChainStoreError) {
        guard patient.utf8.elementsEqual(personID.utf8) else {
            throw OffChainStoreError(
                .invalidArgument, "the patient the record names (\(patientElement)) is not the patient of the request")
        }
    }

    /// SHA-256 of the canonical form: what the `phi` anchor holds.
    package var digest: Data { Data(SHA256.hash(data: canonical)) }

    /// The digest as 64 lowercase hex digits.
    package var digestHex: String {
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in digest {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
