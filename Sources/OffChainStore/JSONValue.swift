import Foundation

/// A JSON value as RFC 8259 defines it, restricted to I-JSON (RFC 7493): numbers are finite IEEE-754
/// doubles, strings are Unicode without surrogates or noncharacters, and object member names are
/// unique. Objects keep their members in the order they were read; `CanonicalJSON` sorts them.
///
/// Two values are equal when they have the same RFC 8785 canonical form: member order does not
/// count, strings compare by their Unicode scalars (not by Swift's canonical equivalence, so "é"
/// and "e\u{301}" differ, as they do in JSON), and numbers compare as doubles (0 equals -0).
package enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(Members)

    /// An object's members in document order (names unique when parsed).
    package typealias Members = [(name: String, value: JSONValue)]

    /// How deep arrays and objects may nest. The parser refuses deeper input (and so never recurses
    /// deeper than this), and `CanonicalJSON` refuses deeper values.
    package static let nestingDepthMax = 128

    /// Parses `data` as one JSON text (RFC 8259) that is also I-JSON (RFC 7493). Throws
    /// `.invalidArgument` naming the byte offset and the rule broken, never the bytes themselves:
    /// invalid UTF-8, a byte order mark, a control character or lone surrogate in a string, a
    /// noncharacter, a duplicate member name, a number with a leading zero or beyond a double's
    /// range, nesting deeper than `nestingDepthMax`, or anything after the value. Never traps.
    package init(parsing data: Data) throws(OffChainStoreError) {
        let result = data.withUnsafeBytes { raw in
            JSONParser.parse(
                UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
        }
        self = try result.get()
    }

    /// Parses `bytes`: see `init(parsing: Data)`.
    package init(parsing bytes: [UInt8]) throws(OffChainStoreError) {
        let result = bytes.withUnsafeBufferPointer { JSONParser.parse($0) }
        self = try result.get()
    }

    /// The value of the member called `name` when this is an object that has one. Names compare
    /// by their UTF-8 bytes.
    package subscript(member name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first(where: { $0.name.utf8.elementsEqual(name.utf8) })?.value
    }

    /// The string, when this is a string.
    package var stringValue: String? {
        if case .string(let string) = self { string } else { nil }
    }

    /// The items, when this is an array.
    package var arrayValue: [JSONValue]? {
        if case .array(let items) = self { items } else { nil }
    }

    /// The members in document order, when this is an object.
    package var objectMembers: Members? {
        if case .object(let members) = self { members } else { nil }
    }
}

extension JSONValue: Hashable {
    package static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let left), .bool(let right)): left == right
        case (.number(let left), .number(let right)): left == right
        case (.string(let left), .string(let right)): left.utf8.elementsEqual(right.utf8)
        case (.array(let left), .array(let right)):
            left.count == right.count && zip(left, right).allSatisfy { $0 == $1 }
        case (.object(let left), .object(let right)):
            left.count == right.count
                && zip(sortedByName(left), sortedByName(right)).allSatisfy {
                    $0.name.utf8.elementsEqual($1.name.utf8) && $0.value == $1.value
                }
        default: false
        }
    }

    package func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let value):
            hasher.combine(1)
            hasher.combine(value)
        case .number(let value):
            hasher.combine(2)
            hasher.combine(value == 0 ? 0 : value)
        case .string(let value):
            hasher.combine(3)
            for byte in value.utf8 { hasher.combine(byte) }
        case .array(let items):
            hasher.combine(4)
            hasher.combine(items.count)
            for item in items { hasher.combine(item) }
        case .object(let members):
            // Order-independent: a sum of the members' own hashes.
            var sum = 0
            for member in members {
                var memberHasher = Hasher()
                for byte in member.name.utf8 { memberHasher.combine(byte) }
                memberHasher.combine(member.value)
                sum = sum &+ memberHasher.finalize()
            }
            hasher.combine(5)
            hasher.combine(members.count)
            hasher.combine(sum)
        }
    }

    private static func sortedByName(_ members: Members) -> Members {
        members.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }
}

/// A strict, byte-level, recursive-descent JSON parser. Recursion is bounded by
/// `JSONValue.nestingDepthMax`; positions are checked against the buffer before every read.
private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, OffChainStoreError> {
        var parser = JSONParser(bytes: bytes)
        do throws(OffChainStoreError) {
            return .success(try parser.parseDocument())
        } catch {
            return .failure(error)
        }
    }

    private var atEnd: Bool { position >= bytes.count }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private func failure(_ rule: String, at offset: Int? = nil) -> OffChainStoreError {
        OffChainStoreError(.invalidArgument, "invalid JSON at byte \(offset ?? position): \(rule)")
    }

    mutating func parseDocument() throws(OffChainStoreError) -> JSONValue {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            throw failure("a byte order mark is not allowed")
        }
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard atEnd else { throw failure("unexpected bytes after the JSON value") }
        return value
    }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            position += 1
        }
    }

    private mutating func parseValue(depth: Int) throws(OffChainStoreError) -> JSONValue {
        guard let byte = current else { throw failure("unexpected end of input, expected a value") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw failure("unexpected character, expected a value")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(OffChainStoreError) {
        let start = position
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count else { throw failure("invalid literal", at: start) }
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for index in 0..<count where bytes[position + index] != expected[index] {
            throw failure("invalid literal", at: start)
        }
        position += count
    }

    private mutating func parseArray(depth: Int) throws(OffChainStoreError) -> JSONValue {
        guard depth <= JSONValue.nestingDepthMax else {
            throw failure("arrays and objects nest deeper than \(JSONValue.nestingDepthMax)")
        }
        position += 1  // [
        skipWhitespace()
        var items: [JSONValue] = []
        if current == UInt8(ascii: "]") {
            position += 1
            return .array(items)
        }
        while true {
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                position += 1
                return .array(items)
            case nil: throw failure("unexpected end of input in an array")
            default: throw failure("expected ',' or ']' in an array")
            }
        }
    }

    private mutating func parseObject(depth: Int) throws(OffChainStoreError) -> JSONValue {
        guard depth <= JSONValue.nestingDepthMax else {
            throw failure("arrays and objects nest deeper than \(JSONValue.nestingDepthMax)")
        }
        position += 1  // {
        skipWhitespace()
        var members: JSONValue.Members = []
        if current == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        var names = MemberNames()
        while true {
            guard current == UInt8(ascii: "\"") else {
                throw failure(atEnd ? "unexpected end of input in an object" : "expected a member name (a string)")
            }
            let nameStart = position
            let name = try parseString()
            guard names.insert(name) else { throw failure("duplicate member name", at: nameStart) }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw failure("expected ':' after a member name") }
            position += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            members.append((name: name, value: value))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                position += 1
                return .object(members)
            case nil: throw failure("unexpected end of input in an object")
            default: throw failure("expected ',' or '}' in an object")
            }
        }
    }

    /// The member names of one object so far, compared by their UTF-8 bytes (not by Swift's
    /// canonical equivalence): a list while the object is small (most are), a set once it is not.
    private struct MemberNames {
        private struct Name: Hashable {
            let text: String
            static func == (lhs: Name, rhs: Name) -> Bool { lhs.text.utf8.elementsEqual(rhs.text.utf8) }
            func hash(into hasher: inout Hasher) {
                var text = text
                text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
            }
        }

        private static let listCountMax = 16
        private var list: [String] = []
        private var set: Set<Name>?

        /// Adds `name`; false when the object already has it.
        mutating func insert(_ name: String) -> Bool {
            if set != nil { return set!.insert(Name(text: name)).inserted }
            guard !list.contains(where: { $0.utf8.elementsEqual(name.utf8) }) else { return false }
            list.append(name)
            if list.count > Self.listCountMax { set = Set(list.map { Name(text: $0) }) }
            return true
        }
    }

    // MARK: Strings

    /// Reads a string starting at its opening quote. Without escapes (most strings) it is made
    /// straight from the checked bytes; otherwise `parseEscapedString` decodes it.
    private mutating func parseString() throws(OffChainStoreError) -> String {
        position += 1  // "
        let start = position
        while let byte = current {
            switch byte {
            case UInt8(ascii: "\""):
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return text
            case UInt8(ascii: "\\"):
                var output: [UInt8] = []
                append(from: start, to: &output)
                return String(decoding: try parseEscapedString(output), as: UTF8.self)
            case 0..<0x20:
                throw failure("a control character in a string must be escaped")
            case 0x20..<0x80:
                position += 1
            default:
                try skipMultibyteSequence()
            }
        }
        throw failure("unterminated string")
    }

    /// Reads the rest of a string from a backslash on, after the bytes in `output`, and returns
    /// its UTF-8 bytes with escapes decoded.
    private mutating func parseEscapedString(_ output: [UInt8]) throws(OffChainStoreError) -> [UInt8] {
        var output = output
        var runStart = position
        while true {
            guard let byte = current else { throw failure("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                append(from: runStart, to: &output)
                position += 1
                return output
            case UInt8(ascii: "\\"):
                append(from: runStart, to: &output)
                try parseEscape(into: &output)
                runStart = position
            case 0..<0x20:
                throw failure("a control character in a string must be escaped")
            case 0x20..<0x80:
                position += 1
            default:
                try skipMultibyteSequence()
            }
        }
    }

    /// Appends the bytes from `start` up to the current position.
    private func append(from start: Int, to output: inout [UInt8]) {
        guard start < position else { return }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<position]))
    }

    private mutating func parseEscape(into output: inout [UInt8]) throws(OffChainStoreError) {
        let start = position
        position += 1  // backslash
        guard let byte = current else { throw failure("unterminated string") }
        position += 1
        switch byte {
        case UInt8(ascii: "\""): output.append(0x22)
        case UInt8(ascii: "\\"): output.append(0x5C)
        case UInt8(ascii: "/"): output.append(0x2F)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            let scalar = try parseUnicodeEscape(start: start)
            guard !Self.isNoncharacter(scalar) else {
                throw failure("a noncharacter is not allowed (I-JSON)", at: start)
            }
            Self.appendUTF8(scalar, to: &output)
        default:
            throw failure("invalid escape sequence", at: start)
        }
    }

    /// Reads the four hex digits after `\u` (and a low-surrogate escape after a high one).
    private mutating func parseUnicodeEscape(start: Int) throws(OffChainStoreError) -> UInt32 {
        let unit = try parseHex4(start: start)
        switch unit {
        case 0xD800...0xDBFF:
            guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                bytes[position + 1] == UInt8(ascii: "u")
            else {
                throw failure("a high surrogate escape without a low surrogate", at: start)
            }
            position += 2
            let low = try parseHex4(start: start)
            guard (0xDC00...0xDFFF).contains(low) else {
                throw failure("a high surrogate escape without a low surrogate", at: start)
            }
            return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
        case 0xDC00...0xDFFF:
            throw failure("a low surrogate escape without a high surrogate", at: start)
        default:
            return unit
        }
    }

    private mutating func parseHex4(start: Int) throws(OffChainStoreError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw failure("a \\u escape needs four hex digits", at: start) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Self.hexValue(bytes[position]) else {
                throw failure("a \\u escape needs four hex digits", at: start)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Checks one UTF-8 sequence of two to four bytes at the current position (Unicode Table 3-7:
    /// no overlong forms, no surrogates, nothing above U+10FFFF) and moves past it.
    private mutating func skipMultibyteSequence() throws(OffChainStoreError) {
        let start = position
        let lead = bytes[position]
        let length: Int
        var scalar: UInt32
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF:
            length = 2
            scalar = UInt32(lead & 0x1F)
        case 0xE0:
            length = 3
            scalar = 0
            secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF:
            length = 3
            scalar = UInt32(lead & 0x0F)
        case 0xED:
            length = 3
            scalar = 0x0D
            secondRange = 0x80...0x9F
        case 0xF0:
            length = 4
            scalar = 0
            secondRange = 0x90...0xBF
        case 0xF1...0xF3:
            length = 4
            scalar = UInt32(lead & 0x07)
        case 0xF4:
            length = 4
            scalar = 4
            secondRange = 0x80...0x8F
        default: throw failure("invalid UTF-8")
        }
        guard bytes.count - position >= length else { throw failure("invalid UTF-8 (truncated sequence)") }
        for offset in 1..<length {
            let byte = bytes[position + offset]
            let range: ClosedRange<UInt8> = offset == 1 ? secondRange : 0x80...0xBF
            guard range.contains(byte) else { throw failure("invalid UTF-8", at: start) }
            scalar = scalar << 6 | UInt32(byte & 0x3F)
        }
        guard !Self.isNoncharacter(scalar) else { throw failure("a noncharacter is not allowed (I-JSON)", at: start) }
        position += length
    }

    /// U+FDD0...U+FDEF and the last two code points of every plane (RFC 7493 §2.1).
    private static func isNoncharacter(_ scalar: UInt32) -> Bool {
        (0xFDD0...0xFDEF).contains(scalar) || scalar & 0xFFFE == 0xFFFE
    }

    private static func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            output.append(UInt8(truncatingIfNeeded: scalar))
        case 0x80..<0x800:
            output.append(0xC0 | UInt8(truncatingIfNeeded: scalar >> 6))
            output.append(0x80 | UInt8(truncatingIfNeeded: scalar & 0x3F))
        case 0x800..<0x10000:
            output.append(0xE0 | UInt8(truncatingIfNeeded: scalar >> 12))
            output.append(0x80 | UInt8(truncatingIfNeeded: scalar >> 6 & 0x3F))
            output.append(0x80 | UInt8(truncatingIfNeeded: scalar & 0x3F))
        default:
            output.append(0xF0 | UInt8(truncatingIfNeeded: scalar >> 18))
            output.append(0x80 | UInt8(truncatingIfNeeded: scalar >> 12 & 0x3F))
            output.append(0x80 | UInt8(truncatingIfNeeded: scalar >> 6 & 0x3F))
            output.append(0x80 | UInt8(truncatingIfNeeded: scalar & 0x3F))
        }
    }

    // MARK: Numbers

    /// Reads `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` and converts it to the nearest
    /// double; refuses one whose magnitude is beyond a double's range (it would become infinity).
    private mutating func parseNumber() throws(OffChainStoreError) -> Double {
        let start = position
        if current == UInt8(ascii: "-") { position += 1 }
        switch current {
        case UInt8(ascii: "0"):
            position += 1
            if let byte = current, Self.isDigit(byte) {
                throw failure("a number must not have a leading zero", at: start)
            }
        case let byte? where Self.isDigit(byte):
            skipDigits()
        default:
            throw failure("expected a digit in a number")
        }
        if current == UInt8(ascii: ".") {
            position += 1
            guard let byte = current, Self.isDigit(byte) else {
                throw failure("expected a digit after the decimal point")
            }
            skipDigits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard let byte = current, Self.isDigit(byte) else { throw failure("expected a digit in the exponent") }
            skipDigits()
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw failure("a number beyond the range of an IEEE-754 double (I-JSON)", at: start)
        }
        return value
    }

    private mutating func skipDigits() {
        while let byte = current, Self.isDigit(byte) { position += 1 }
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
