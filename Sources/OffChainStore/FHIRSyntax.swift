import Crypto
import Foundation

/// The syntax of FHIR R4's primitive types, references and Medrex person ids, checked on UTF-8
/// bytes (R4's regular expressions, plus "dates SHALL be valid dates").
enum FHIRSyntax {
    /// What a reference points at.
    enum ReferenceTarget: Equatable {
        /// `Type/id`, with an optional `/_history/vid`, possibly after an http(s) base URL.
        case resource(String)
        /// `#id`: a contained resource.
        case contained(String)
        /// `urn:uuid:` or `urn:oid:`: a resource in the same Bundle or elsewhere.
        case urn
    }

    /// The rule a primitive's text must follow, for messages; nil when any non-empty string is.
    static func rule(_ primitive: FHIRPrimitive) -> String? {
        switch primitive {
        case .uri, .url, .canonical: "a URI without whitespace"
        case .id: "a FHIR id (1 to 64 of A-Z, a-z, 0-9, '-', '.')"
        case .code: "a FHIR code (no leading, trailing or repeated whitespace)"
        case .date: "a FHIR date: YYYY, YYYY-MM or YYYY-MM-DD, and a valid date"
        case .dateTime:
            "a FHIR dateTime: YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss(.s)+zz:zz with a time zone, and a valid date"
        case .instant: "a FHIR instant: YYYY-MM-DDThh:mm:ss(.s)+zz:zz with a time zone, and a valid date"
        case .time: "a FHIR time: hh:mm:ss(.s)"
        default: nil
        }
    }

    static func holds(_ primitive: FHIRPrimitive, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        switch primitive {
        case .uri, .url, .canonical: return !bytes.contains(where: isWhitespace)
        case .id: return isID(text)
        case .code: return isCode(bytes)
        case .date: return parseDate(bytes, allowTime: false, requireTime: false)
        case .dateTime: return parseDate(bytes, allowTime: true, requireTime: false)
        case .instant: return parseDate(bytes, allowTime: true, requireTime: true)
        case .time:
            var position = 0
            return parseTime(bytes, &position) && position == bytes.count
        default: return true
        }
    }

    /// XML Schema's whitespace, which R4's regular expressions mean by `\s`.
    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
    }

    /// `[A-Za-z0-9\-\.]{1,64}`
    static func isID<S: StringProtocol>(_ text: S) -> Bool {
        let count = text.utf8.count
        return count >= 1 && count <= 64
            && text.utf8.allSatisfy {
                isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
            }
    }

    /// A resource type name: `[A-Z][A-Za-z]+`, at most 64 characters.
    static func isTypeName<S: StringProtocol>(_ text: S) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes.count <= 64, bytes[0] >= UInt8(ascii: "A"), bytes[0] <= UInt8(ascii: "Z") else {
            return false
        }
        return bytes.allSatisfy(isLetter)
    }

    /// `[^\s]+(\s[^\s]+)*`: no leading or trailing whitespace, no two in a row.
    private static func isCode(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first, let last = bytes.last, !isWhitespace(first), !isWhitespace(last) else {
            return false
        }
        return !zip(bytes, bytes.dropFirst()).contains { isWhitespace($0) && isWhitespace($1) }
    }

    /// A Medrex person id: `[A-Za-z0-9._-]{1,64}` '/' `[\x20-\x7E]+`, at most 256 bytes.
    static func isPersonID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count <= FHIRResource.personIDBytesMax, let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else {
            return false
        }
        let msp = bytes[..<slash]
        let name = bytes[(slash + 1)...]
        return !msp.isEmpty && msp.count <= 64
            && msp.allSatisfy {
                isLetter($0) || isDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
                    || $0 == UInt8(ascii: "-")
            }
            && !name.isEmpty && name.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }
    }

    // MARK: Dates and times

    /// R4's date, dateTime (time needs a time zone) and instant, on `bytes`; the date must exist.
    private static func parseDate(_ bytes: [UInt8], allowTime: Bool, requireTime: Bool) -> Bool {
        var position = 0
        guard let year = number(bytes, &position, digits: 4), year != 0 else { return false }
        guard position < bytes.count else { return !requireTime }
        guard bytes[position] == UInt8(ascii: "-") else { return false }
        position += 1
        guard let month = number(bytes, &position, digits: 2), (1...12).contains(month) else { return false }
        guard position < bytes.count else { return !requireTime }
        guard bytes[position] == UInt8(ascii: "-") else { return false }
        position += 1
        guard let day = number(bytes, &position, digits: 2), day >= 1, day <= daysIn(month: month, year: year) else {
            return false
        }
        guard position < bytes.count else { return !requireTime }
        guard allowTime, bytes[position] == UInt8(ascii: "T") else { return false }
        position += 1
        guard parseTime(bytes, &position), parseTimeZone(bytes, &position) else { return false }
        return position == bytes.count
    }

    /// `hh:mm:ss(.s+)?` with hh 00-23, mm 00-59, ss 00-60.
    private static func parseTime(_ bytes: [UInt8], _ position: inout Int) -> Bool {
        guard let hour = number(bytes, &position, digits: 2), hour <= 23, expect(bytes, &position, ":"),
            let minute = number(bytes, &position, digits: 2), minute <= 59, expect(bytes, &position, ":"),
            let second = number(bytes, &position, digits: 2), second <= 60
        else { return false }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            let start = position
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
            return position > start
        }
        return true
    }

    /// `Z` or `(+|-)hh:mm` with hh:mm up to 13:59, or 14:00.
    private static func parseTimeZone(_ bytes: [UInt8], _ position: inout Int) -> Bool {
        guard position < bytes.count else { return false }
        if bytes[position] == UInt8(ascii: "Z") {
            position += 1
            return true
        }
        guard bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") else { return false }
        position += 1
        guard let hour = number(bytes, &position, digits: 2), expect(bytes, &position, ":"),
            let minute = number(bytes, &position, digits: 2), minute <= 59
        else { return false }
        return hour <= 13 || (hour == 14 && minute == 0)
    }

    private static func expect(_ bytes: [UInt8], _ position: inout Int, _ character: Unicode.Scalar) -> Bool {
        guard position < bytes.count, bytes[position] == UInt8(ascii: character) else { return false }
        position += 1
        return true
    }

    /// Exactly `digits` decimal digits at `position` (at most 4: no overflow).
    private static func number(_ bytes: [UInt8], _ position: inout Int, digits: Int) -> Int? {
        guard bytes.count - position >= digits else { return nil }
        var value = 0
        for _ in 0..<digits {
            let byte = bytes[position]
            guard isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - 0x30)
            position += 1
        }
        return value
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // MARK: References

    /// Parses a Reference's `reference`: relative `Type/id` (optionally `/_history/vid`), the same
    /// after an `http://` or `https://` base URL, `urn:uuid:` + a UUID, `urn:oid:` + an OID, or
    /// `#id`. Nil for anything else (including conditional references with a query).
    static func referenceTarget(_ text: String) -> ReferenceTarget? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, !bytes.contains(where: { isWhitespace($0) || $0 == UInt8(ascii: "?") }) else {
            return nil
        }
        if bytes[0] == UInt8(ascii: "#") {
            let id = String(decoding: bytes.dropFirst(), as: UTF8.self)
            return isID(id) ? .contained(id) : nil
        }
        if bytes.starts(with: "urn:uuid:".utf8) {
            return isUUID(bytes.dropFirst(9)) ? .urn : nil
        }
        if bytes.starts(with: "urn:oid:".utf8) {
            return isOID(bytes.dropFirst(8)) ? .urn : nil
        }
        var segments = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for scheme in ["http:", "https:"] where bytes.starts(with: (scheme + "//").utf8) {
            // "https:", "", host, ..., Type, id: the host must be there and non-empty.
            guard segments.count >= 5, !segments[2].isEmpty else { return nil }
            segments.removeFirst(3)
            return resourceTarget(Array(segments.suffix(segments.count >= 4 && isHistory(segments) ? 4 : 2)))
        }
        return resourceTarget(segments)
    }

    /// Whether `segments` ends in `Type/id/_history/vid`.
    private static func isHistory(_ segments: [ArraySlice<UInt8>]) -> Bool {
        segments.count >= 4 && segments[segments.count - 2].elementsEqual("_history".utf8)
    }

    /// `Type/id` or `Type/id/_history/vid`.
    private static func resourceTarget(_ segments: [ArraySlice<UInt8>]) -> ReferenceTarget? {
        guard segments.count == 2 || (segments.count == 4 && isHistory(segments)) else { return nil }
        let type = String(decoding: segments[0], as: UTF8.self)
        guard isTypeName(type), isID(String(decoding: segments[1], as: UTF8.self)) else { return nil }
        if segments.count == 4, !isID(String(decoding: segments[3], as: UTF8.self)) { return nil }
        return .resource(type)
    }

    /// 8-4-4-4-12 hex digits, either case.
    private static func isUUID(_ bytes: ArraySlice<UInt8>) -> Bool {
        let groups = bytes.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        return groups.map(\.count) == [8, 4, 4, 4, 12] && groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    /// `[0-2](\.(0|[1-9][0-9]*))+`
    private static func isOID(_ bytes: ArraySlice<UInt8>) -> Bool {
        let arcs = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard arcs.count >= 2, arcs[0].count == 1, let first = arcs[0].first, first >= 0x30, first <= 0x32 else {
            return false
        }
        return arcs.dropFirst().allSatisfy { arc in
            guard let lead = arc.first, arc.allSatisfy(isDigit) else { return false }
            return lead != 0x30 || arc.count == 1
        }
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (self >= 0x30 && self <= 0x39) || (self >= 0x41 && self <= 0x46) || (self >= 0x61 && self <= 0x66)
    }
}
