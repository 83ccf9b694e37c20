// Fuzz target `fhir`: bytes → FHIRResource(json:): the strict I-JSON parser (JSONValue), FHIR R4's
// rules for the 11 resource types and Bundles (FHIRValidator), the RFC 8785 canonical form. The
// same bytes also go to JSONValue alone, so that inputs the FHIR rules refuse early still reach the
// parser and the canonicalizer. Oracles: canonicalizing is a fixed point (the canonical bytes parse
// and canonicalize to themselves), and an accepted record's canonical form is accepted again with
// the same canonical bytes, type, id and patient.
import Foundation
import OffChainStore

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    writeSeedsIfAsked {
        // The committed seeds are the example records (Examples/phi); these are smaller ones.
        let person = #"{"system":"urn:medrex:person","value":"HospitalAMSP/patient-alice@hospital-a.fuzz"}"#
        return [
            ("observation", Data(#"{"resourceType":"Observation","id":"o-1","status":"final","code":{"text":"x"},"subject":{"identifier":\#(person)}}"#.utf8)),
            ("patient", Data(#"{"resourceType":"Patient","id":"p-1","identifier":[\#(person)],"gender":"female","birthDate":"1980-02-29"}"#.utf8)),
            ("numbers", Data(#"[1e21,1e-7,-0,0.1,333333333.33333329,9007199254740993,"\ud83d\ude02",{"b":1,"a":[{}]}]"#.utf8)),
        ]
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFHIR(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzData(data, size)
    if let value = try? JSONValue(parsing: bytes), let canonical = try? value.canonicalData() {
        let again = try? JSONValue(parsing: canonical).canonicalData()
        fuzzOracle(again == canonical, "canonicalizing the canonical form changed it")
    }
    if let resource = try? FHIRResource(json: bytes) {
        let again = try? FHIRResource(json: resource.canonical)
        fuzzOracle(again != nil, "the canonical form of an accepted \(resource.resourceType) is refused")
        if let again {
            fuzzOracle(
                again.canonical == resource.canonical && again.resourceType == resource.resourceType && again.id == resource.id
                    && again.patient == resource.patient,
                "the canonical form of an accepted \(resource.resourceType) reads differently")
        }
        _ = resource.digestHex
    }
    return 0
}
