import Crypto
import Foundation

/// A PHI record as Medrex accepts it: one FHIR R4 resource in JSON, with `resourceType`, `id` and
/// `subject` present. Its canonical form (keys sorted, no insignificant whitespace, slashes not
/// escaped) is what is encrypted and what the chain's anchor hashes, so that the client and the
/// custodian compute the same SHA-256 from the same resource however it was formatted.
///
/// Errors name the missing or malformed field, never a value: the record is PHI.
package struct FHIRResource: Sendable {
    package let resourceType: String
    package let id: String
    /// The canonical JSON bytes.
    package let canonical: Data

    /// Parses and checks `json`. Throws `.invalidArgument` for anything that is not a JSON object
    /// with a `resourceType` (a FHIR type name), an `id` (FHIR's id: 1–64 of A–Z a–z 0–9 - .) and a
    /// `subject` (an object, as FHIR's Reference), or that is larger than a record may be.
    package init(json: Data) throws(OffChainStoreError) {
        guard json.count <= OffChainStoreLimits.plaintextBytesMax else {
            throw OffChainStoreError(.invalidArgument, "the record is larger than \(OffChainStoreLimits.plaintextBytesMax) bytes")
        }
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: json) as? [String: Any] else {
                throw OffChainStoreError(.invalidArgument, "the record is not a JSON object (a FHIR resource)")
            }
            object = parsed
        } catch let error as OffChainStoreError {
            throw error
        } catch {
            throw OffChainStoreError(.invalidArgument, "the record is not valid JSON")
        }
        guard let resourceType = object["resourceType"] as? String,
            resourceType.range(of: #"^[A-Z][A-Za-z]{1,63}$"#, options: .regularExpression) != nil
        else {
            throw OffChainStoreError(.invalidArgument, "the record has no FHIR resourceType (a name such as Observation)")
        }
        guard let id = object["id"] as? String, id.range(of: #"^[A-Za-z0-9\-.]{1,64}$"#, options: .regularExpression) != nil else {
            throw OffChainStoreError(.invalidArgument, "the record has no valid FHIR id (1 to 64 of A-Z, a-z, 0-9, '-', '.')")
        }
        guard object["subject"] is [String: Any] else {
            throw OffChainStoreError(.invalidArgument, "the record has no subject (a FHIR Reference object naming the patient)")
        }
        self.resourceType = resourceType
        self.id = id
        do {
            canonical = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw OffChainStoreError(.invalidArgument, "the record cannot be written as canonical JSON")
        }
    }

    /// SHA-256 of the canonical form: what the `phi` anchor holds.
    package var digest: Data { Data(SHA256.hash(data: canonical)) }

    /// The digest as 64 lowercase hex digits.
    package var digestHex: String { digest.map { String(format: "%02x", $0) }.joined() }
}
