/// Mutates serialized protobuf messages: byte-level changes (bits, bytes, ranges, splices) and
/// wire-format changes (extreme varints, unterminated and overlong varints, huge or wrong length
/// prefixes, changed wire types, dropped, duplicated and unknown fields, deep nesting), recursing
/// into length-delimited fields so that a change lands inside a signed envelope's payload as well
/// as on its surface. Every decision comes from the caller's `FuzzRandom`.
struct MessageMutator: Sendable {
    /// Other messages to splice in and to put inside length-delimited fields.
    let donors: [[UInt8]]
    /// How deep into nested length-delimited fields a mutation may go.
    static let nestingDepthMax = 5
    /// Nesting of the deep-nesting mutation: beyond SwiftProtobuf's default recursion limit (100).
    static let deepNestingLevels = 120
    static let insertedBytesMax = 32

    /// Values at the edges of the integer types that decoders convert varints to.
    static let interestingVarints: [UInt64] = [
        0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000,
        0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFE, 0xFFFF_FFFF_FFFF_FFFF,
    ]
    static let interestingBytes: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]
    /// Length prefixes that claim far more (or a little more) than follows.
    static let hugeLengths: [UInt64] = [0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF]

    /// `message` after one to four stacked mutations.
    func mutate(_ message: [UInt8], random: inout FuzzRandom) -> [UInt8] {
        var result = message
        for _ in 0...random.below(4) { result = mutateOnce(result, depth: 0, random: &random) }
        return result
    }

    private func mutateOnce(_ message: [UInt8], depth: Int, random: inout FuzzRandom) -> [UInt8] {
        if random.chance(3, in: 5), let fields = ProtobufWire.fields(message), !fields.isEmpty {
            return mutateFields(fields, depth: depth, random: &random)
        }
        return mutateBytes(message, random: &random)
    }

    // MARK: Byte level

    private func mutateBytes(_ message: [UInt8], random: inout FuzzRandom) -> [UInt8] {
        var bytes = message
        guard !bytes.isEmpty else { return random.bytes(count: 1 + random.below(Self.insertedBytesMax)) }
        switch random.below(8) {
        case 0:
            let index = random.below(bytes.count)
            bytes[index] ^= UInt8(1) << UInt8(random.below(8))
        case 1:
            bytes[random.below(bytes.count)] = random.element(of: Self.interestingBytes)
        case 2:
            bytes.insert(contentsOf: random.bytes(count: 1 + random.below(Self.insertedBytesMax)), at: random.below(bytes.count + 1))
        case 3:
            let start = random.below(bytes.count)
            bytes.removeSubrange(start..<min(bytes.count, start + 1 + random.below(Self.insertedBytesMax)))
        case 4:
            bytes.removeLast(1 + random.below(bytes.count))
        case 5:
            let start = random.below(bytes.count)
            let range = start..<min(bytes.count, start + 1 + random.below(64))
            bytes.insert(contentsOf: bytes[range], at: random.below(bytes.count + 1))
        case 6:
            guard !donors.isEmpty else { return mutateBytes(bytes, random: &random) }
            let donor = random.element(of: donors)
            bytes = Array(bytes.prefix(random.below(bytes.count + 1))) + donor.suffix(random.below(donor.count + 1))
        default:
            bytes += random.bytes(count: 1 + random.below(Self.insertedBytesMax))
        }
        return bytes
    }

    // MARK: Wire-format level

    private func mutateFields(_ original: [ProtobufWire.Field], depth: Int, random: inout FuzzRandom) -> [UInt8] {
        var fields = original
        let index = random.below(fields.count)
        let field = fields[index]
        let nested = field.wireType == ProtobufWire.lengthDelimitedWireType
        switch random.below(12) {
        case 0...2 where nested && depth < Self.nestingDepthMax:
            // Into the field: its payload is often a message itself (Envelope.payload, Payload.header, ...).
            fields[index].value = mutateOnce(field.value, depth: depth + 1, random: &random)
        case 3:
            fields[index] = ProtobufWire.Field(number: field.number, wireType: ProtobufWire.varintWireType,
                                               value: ProtobufWire.varint(random.element(of: Self.interestingVarints)))
        case 4:
            fields.remove(at: index)
        case 5:
            fields.insert(field, at: random.below(fields.count + 1))
        case 6:
            fields.swapAt(index, random.below(fields.count))
        case 7 where nested && !donors.isEmpty:
            fields[index].value = random.element(of: donors)
        case 8:
            // The same field with another wire type: its bytes read as something else.
            fields[index].wireType = random.element(of: [0, 1, 2, 3, 4, 5, 6, 7].filter { $0 != field.wireType })
        case 9:
            return ProtobufWire.encode(Array(fields[..<index])) + malformedField(number: field.number, random: &random)
                + ProtobufWire.encode(Array(fields[index...]))
        case 10:
            fields.append(unknownField(random: &random))
        default:
            return ProtobufWire.encode(fields) + malformedField(number: field.number, random: &random)
        }
        return ProtobufWire.encode(fields)
    }

    /// A field no encoder writes: an unterminated varint, an overlong varint, a length prefix far
    /// past the end, a truncated fixed value, or a very deep nesting.
    private func malformedField(number: UInt64, random: inout FuzzRandom) -> [UInt8] {
        let varintTag = ProtobufWire.tag(number: number, wireType: ProtobufWire.varintWireType)
        let nestedTag = ProtobufWire.tag(number: number, wireType: ProtobufWire.lengthDelimitedWireType)
        switch random.below(6) {
        case 0:
            return varintTag + Array(repeating: 0x80, count: 1 + random.below(ProtobufWire.varintBytesMax + 2))
        case 1:
            return varintTag + Array(repeating: 0xFF, count: ProtobufWire.varintBytesMax) + [0x01]
        case 2:
            let payload = random.bytes(count: random.below(16))
            return nestedTag + ProtobufWire.varint(random.element(of: Self.hugeLengths)) + payload
        case 3:
            let payload = random.bytes(count: 1 + random.below(16))
            return nestedTag + ProtobufWire.varint(UInt64(payload.count + 1 + random.below(4))) + payload
        case 4:
            return ProtobufWire.tag(number: number, wireType: ProtobufWire.fixed64WireType) + random.bytes(count: random.below(8))
        default:
            var inner: [UInt8] = ProtobufWire.varintField(1, 1)
            for _ in 0..<Self.deepNestingLevels { inner = ProtobufWire.lengthDelimited(number, inner) }
            return inner
        }
    }

    private func unknownField(random: inout FuzzRandom) -> ProtobufWire.Field {
        let number = random.element(of: [1, 2, 3, 15, 16, 1000, 19000, 19999, ProtobufWire.fieldNumberMax])
        if random.chance(1, in: 2) {
            return ProtobufWire.Field(number: number, wireType: ProtobufWire.varintWireType, value: ProtobufWire.varint(random.element(of: Self.interestingVarints)))
        }
        let payload = donors.isEmpty || random.chance(1, in: 2) ? random.bytes(count: random.below(64)) : random.element(of: donors)
        return ProtobufWire.Field(number: number, wireType: ProtobufWire.lengthDelimitedWireType, value: payload)
    }
}
