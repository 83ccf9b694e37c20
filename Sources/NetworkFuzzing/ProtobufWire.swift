/// Protobuf's wire format, just enough to take a message apart into its top-level fields, change
/// them, and put it back together — including ways no encoder would (a wrong length prefix, an
/// unterminated varint). Every number read from the bytes is checked: nothing here traps on input.
enum ProtobufWire {
    static let varintWireType: UInt8 = 0
    static let fixed64WireType: UInt8 = 1
    static let lengthDelimitedWireType: UInt8 = 2
    static let fixed32WireType: UInt8 = 5
    /// The longest varint protobuf accepts (a 64-bit value in 7-bit groups).
    static let varintBytesMax = 10
    /// Field numbers are 29 bits.
    static let fieldNumberMax: UInt64 = (1 << 29) - 1

    struct Field: Sendable, Equatable {
        var number: UInt64
        var wireType: UInt8
        /// The value's bytes: the varint's bytes, the 4 or 8 fixed bytes, or a length-delimited
        /// field's payload (without its length prefix).
        var value: [UInt8]

        var encoded: [UInt8] {
            var bytes = ProtobufWire.tag(number: number, wireType: wireType)
            if wireType == ProtobufWire.lengthDelimitedWireType { bytes += ProtobufWire.varint(UInt64(value.count)) }
            return bytes + value
        }
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
        return bytes
    }

    /// The tag of field `number` (at most `fieldNumberMax`, larger numbers are cut to 29 bits).
    static func tag(number: UInt64, wireType: UInt8) -> [UInt8] {
        varint(((number & fieldNumberMax) << 3) | UInt64(wireType & 0x07))
    }

    static func lengthDelimited(_ number: UInt64, _ payload: [UInt8]) -> [UInt8] {
        Field(number: number, wireType: lengthDelimitedWireType, value: payload).encoded
    }

    static func lengthDelimited(_ number: UInt64, _ text: String) -> [UInt8] { lengthDelimited(number, Array(text.utf8)) }

    static func varintField(_ number: UInt64, _ value: UInt64) -> [UInt8] {
        tag(number: number, wireType: varintWireType) + varint(value)
    }

    /// Reads a varint at `index` and moves past it; nil when it is unterminated or longer than
    /// `varintBytesMax` bytes.
    static func readVarint(_ bytes: [UInt8], at index: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var position = index
        for group in 0..<varintBytesMax {
            guard position < bytes.count else { return nil }
            let byte = bytes[position]
            position += 1
            let shift = UInt64(7 * group)
            // The tenth byte holds only the top bit of 64.
            if group == varintBytesMax - 1 && byte > 1 { return nil }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                index = position
                return value
            }
        }
        return nil
    }

    /// The top-level fields of `bytes`; nil when it is not a well-formed message (groups count as
    /// malformed: no Medrex message uses them).
    static func fields(_ bytes: [UInt8]) -> [Field]? {
        var fields: [Field] = []
        var index = 0
        while index < bytes.count {
            guard let tag = readVarint(bytes, at: &index) else { return nil }
            let number = tag >> 3
            let wireType = UInt8(tag & 0x07)
            guard number > 0, number <= fieldNumberMax, let end = valueEnd(bytes, wireType: wireType, at: &index) else { return nil }
            fields.append(Field(number: number, wireType: wireType, value: Array(bytes[index..<end])))
            index = end
        }
        return fields
    }

    /// Where the value starting at `index` ends; moves `index` past a length prefix. Nil when the
    /// value runs past the end of `bytes` or the wire type is not one we take apart.
    private static func valueEnd(_ bytes: [UInt8], wireType: UInt8, at index: inout Int) -> Int? {
        let length: Int
        switch wireType {
        case varintWireType:
            var probe = index
            guard readVarint(bytes, at: &probe) != nil else { return nil }
            return probe
        case fixed64WireType: length = 8
        case fixed32WireType: length = 4
        case lengthDelimitedWireType:
            guard let prefix = readVarint(bytes, at: &index), let exact = Int(exactly: prefix) else { return nil }
            length = exact
        default: return nil
        }
        let (end, overflow) = index.addingReportingOverflow(length)
        guard !overflow, end <= bytes.count else { return nil }
        return end
    }

    static func encode(_ fields: [Field]) -> [UInt8] { fields.flatMap(\.encoded) }
}
