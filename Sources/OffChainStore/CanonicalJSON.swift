import Foundation

/// The JSON Canonicalization Scheme (RFC 8785, JCS): one byte sequence per JSON value, so that two
/// parties hash the same bytes for the same data however it was formatted.
///
/// - No whitespace between tokens.
/// - Object members sorted by the UTF-16 code units of their names (not by locale, not by code
///   points: U+1F600 sorts before U+FB33 because its high surrogate is 0xD83D).
/// - Strings as ECMAScript's `JSON.stringify` writes them: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`,
///   `\t`, other characters below U+0020 as `\u00xx` with lowercase hex, and everything else as
///   itself in UTF-8 (`/`, DEL and non-ASCII unescaped). No Unicode normalization.
/// - Numbers as ECMAScript's `Number.prototype.toString`: the shortest digits that read back as
///   the same double, laid out as plain digits for magnitudes in [1e-6, 1e21) and as `d.ddde±n`
///   otherwise; `-0` is written `0`.
package enum CanonicalJSON {
    /// The canonical UTF-8 bytes of `value`. Throws `.invalidArgument` for what RFC 8785 cannot
    /// represent: a NaN or infinite number, two members with the same name, or nesting deeper
    /// than `JSONValue.nestingDepthMax`. Never throws for a value `JSONValue(parsing:)` returned.
    package static func encode(_ value: JSONValue) throws(OffChainStoreError) -> [UInt8] {
        var output: [UInt8] = []
        try write(value, depth: 0, to: &output)
        return output
    }

    /// `encode` as `Data`.
    package static func data(_ value: JSONValue) throws(OffChainStoreError) -> Data {
        Data(try encode(value))
    }

    private static func write(_ value: JSONValue, depth: Int, to output: inout [UInt8]) throws(OffChainStoreError) {
        switch value {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let flag): output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number):
            guard let text = numberText(number) else {
                throw OffChainStoreError(
                    .invalidArgument, "a JSON number must be finite (RFC 8785 has no NaN or Infinity)")
            }
            output.append(contentsOf: text.utf8)
        case .string(let string): writeString(string, to: &output)
        case .array(let items):
            guard depth < JSONValue.nestingDepthMax else { throw tooDeep }
            output.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                try write(item, depth: depth + 1, to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            guard depth < JSONValue.nestingDepthMax else { throw tooDeep }
            let sorted = members.sorted { precedesInUTF16($0.name, $1.name) }
            output.append(UInt8(ascii: "{"))
            for (index, member) in sorted.enumerated() {
                if index > 0 {
                    guard !sorted[index - 1].name.utf8.elementsEqual(member.name.utf8) else {
                        throw OffChainStoreError(.invalidArgument, "a JSON object has two members with the same name")
                    }
                    output.append(UInt8(ascii: ","))
                }
                writeString(member.name, to: &output)
                output.append(UInt8(ascii: ":"))
                try write(member.value, depth: depth + 1, to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// Whether `first` sorts before `second` by their UTF-16 code units, computed on their UTF-8
    /// bytes. UTF-8 byte order is code point order, which is UTF-16 order except that U+E000 to
    /// U+FFFF (UTF-8 lead bytes EE, EF) sort after U+10000 and above in UTF-16 (lead bytes F0 to
    /// F4; UTF-16 high surrogates D800 to DBFF). The first differing bytes of two strings are
    /// either both lead bytes or both continuation bytes (80 to BF), so checking them suffices.
    static func precedesInUTF16(_ first: String, _ second: String) -> Bool {
        var left = first.utf8.makeIterator()
        var right = second.utf8.makeIterator()
        while true {
            guard let a = left.next() else { return right.next() != nil }
            guard let b = right.next() else { return false }
            guard a != b else { continue }
            if a >= 0xEE && a <= 0xEF && b >= 0xF0 { return false }
            if b >= 0xEE && b <= 0xEF && a >= 0xF0 { return true }
            return a < b
        }
    }

    private static var tooDeep: OffChainStoreError {
        OffChainStoreError(.invalidArgument, "JSON arrays and objects nest deeper than \(JSONValue.nestingDepthMax)")
    }

    // MARK: Strings

    /// Writes `string` quoted, escaping as ECMAScript's `JSON.stringify` does. Runs of bytes that
    /// need no escape are copied in one step.
    static func writeString(_ string: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var runStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                appendEscape(byte, to: &output)
                runStart = index + 1
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        output.append(UInt8(ascii: "\""))
    }

    private static func appendEscape(_ byte: UInt8, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\\"))
        switch byte {
        case 0x22: output.append(UInt8(ascii: "\""))
        case 0x5C: output.append(UInt8(ascii: "\\"))
        case 0x08: output.append(UInt8(ascii: "b"))
        case 0x0C: output.append(UInt8(ascii: "f"))
        case 0x0A: output.append(UInt8(ascii: "n"))
        case 0x0D: output.append(UInt8(ascii: "r"))
        case 0x09: output.append(UInt8(ascii: "t"))
        default:
            let hex = Array("0123456789abcdef".utf8)
            output.append(contentsOf: "u00".utf8)
            output.append(hex[Int(byte >> 4)])
            output.append(hex[Int(byte & 0x0F)])
        }
    }

    // MARK: Numbers

    /// `number` as ECMAScript's `Number.prototype.toString` writes it (ECMA-262 §6.1.6.1.20), or
    /// nil for NaN and the infinities. The shortest round-trip digits come from Swift's
    /// `description` (which prints the shortest digits that read back as the same double, the
    /// closest of them when several are that short); only their layout is changed here.
    package static func numberText(_ number: Double) -> String? {
        guard number.isFinite else { return nil }
        if number == 0 { return "0" }
        let (digits, exponent) = shortestDigits(of: number.magnitude)
        // ECMA-262: value = 0.d1d2...dk × 10^n, with k digits and the decimal exponent n.
        let k = digits.count
        let n = exponent
        var text = number < 0 ? "-" : ""
        if k <= n && n <= 21 {
            text += String(decoding: digits, as: UTF8.self) + String(repeating: "0", count: n - k)
        } else if 0 < n && n <= 21 {
            text += String(decoding: digits[..<n], as: UTF8.self) + "." + String(decoding: digits[n...], as: UTF8.self)
        } else if -6 < n && n <= 0 {
            text += "0." + String(repeating: "0", count: -n) + String(decoding: digits, as: UTF8.self)
        } else {
            let power = n - 1
            text += String(decoding: digits[..<1], as: UTF8.self)
            if k > 1 { text += "." + String(decoding: digits[1...], as: UTF8.self) }
            text += (power < 0 ? "e-" : "e+") + String(power.magnitude)
        }
        return text
    }

    /// The shortest round-trip decimal digits of a positive finite double (no leading or trailing
    /// zeros) and the exponent n with value = 0.digits × 10^n, read off Swift's `description`
    /// ("1.5", "5e-324", "1.7976931348623157e+308", "9007199254740992.0").
    private static func shortestDigits(of magnitude: Double) -> (digits: [UInt8], exponent: Int) {
        let text = Array(magnitude.description.utf8)
        var digits: [UInt8] = []
        var fractionDigitCount = 0
        var seenPoint = false
        var exponent = 0
        var index = 0
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: ".") {
                seenPoint = true
            } else if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                exponent = parseExponent(text[(index + 1)...])
                break
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                digits.append(byte)
                if seenPoint { fractionDigitCount += 1 }
            }
            index += 1
        }
        // value = digits (as an integer) × 10^(exponent - fractionDigitCount)
        let leadingZeros = digits.prefix(while: { $0 == UInt8(ascii: "0") }).count
        digits.removeFirst(leadingZeros)
        let trailingZeros = digits.reversed().prefix(while: { $0 == UInt8(ascii: "0") }).count
        digits.removeLast(trailingZeros)
        return (digits, digits.count + exponent - fractionDigitCount + trailingZeros)
    }

    /// The decimal exponent after the `e` of a description: an optional sign and at most three
    /// digits (a double's exponent is within ±324).
    private static func parseExponent(_ text: ArraySlice<UInt8>) -> Int {
        var negative = false
        var value = 0
        for byte in text {
            switch byte {
            case UInt8(ascii: "-"): negative = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value * 10 + Int(byte - UInt8(ascii: "0"))
            default: break
            }
        }
        return negative ? -value : value
    }
}

extension JSONValue {
    /// The RFC 8785 canonical bytes: see `CanonicalJSON.encode`.
    package func canonicalData() throws(OffChainStoreError) -> Data {
        try CanonicalJSON.data(self)
    }
}
