import Foundation
import SwiftASN1
import X509

/// Healthcare attributes carried in a certificate the way Fabric CA carries attributes: a
/// non-critical extension with OID 1.2.3.4.5.6.7.8.1 whose value is the JSON `{"attrs":{...}}`.
/// Attribute names used by Medrex: role, specialty, is_trainee, is_supervisor, privacy_officer, hospital,
/// ward_assignment, lab_org.
package enum HealthcareAttributes {
    package static let extensionOID: ASN1ObjectIdentifier = [1, 2, 3, 4, 5, 6, 7, 8, 1]

    private struct Envelope: Codable {
        var attrs: [String: String]
    }

    /// The extension holding `attributes` (keys sorted, so the encoding is canonical).
    package static func makeExtension(_ attributes: [String: String]) throws(IdentityError) -> Certificate.Extension {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json: Data
        do {
            json = try encoder.encode(Envelope(attrs: attributes))
        } catch {
            throw IdentityError(.malformedAttributes, "attributes could not be encoded as JSON")
        }
        return Certificate.Extension(oid: extensionOID, critical: false, value: ArraySlice(json))
    }

    /// The attributes of `certificate`; empty when it has no attribute extension.
    package static func read(from certificate: Certificate) throws(IdentityError) -> [String: String] {
        guard let attributeExtension = certificate.extensions[oid: extensionOID] else { return [:] }
        do {
            return try JSONDecoder().decode(Envelope.self, from: Data(attributeExtension.value)).attrs
        } catch {
            throw IdentityError(
                .malformedAttributes,
                "attribute extension of certificate '\(certificate.subject)' is not {\"attrs\":{name:string,...}}")
        }
    }
}
