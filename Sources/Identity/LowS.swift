import Crypto
import LedgerCore

/// ECDSA signature malleability on P-256: (r, s) and (r, n - s) both verify. Fabric accepts only
/// the "low-S" form (s ≤ n / 2) so that a signature, and so a transaction, has one encoding.
package enum LowS {
    /// The order n of the P-256 group, big-endian.
    static let curveOrder: [UInt8] = [UInt8](hexString:
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")!
    /// n / 2 (floor), big-endian.
    static let halfCurveOrder: [UInt8] = shiftedRightOneBit(curveOrder)

    /// True when `s` (32 bytes big-endian) is at most n / 2.
    package static func isLow(s: some Collection<UInt8>) -> Bool {
        precondition(s.count == 32, "P-256 scalars are 32 bytes")
        return !halfCurveOrder.lexicographicallyPrecedes(s)
    }

    /// The low-S form of a signature: unchanged when already low, (r, n - s) otherwise.
    package static func normalize(_ signature: P256.Signing.ECDSASignature) -> P256.Signing.ECDSASignature {
        isLow(s: signature.rawRepresentation.suffix(32)) ? signature : negatingS(signature)
    }

    /// (r, n - s): the other signature that verifies for the same message and key.
    package static func negatingS(_ signature: P256.Signing.ECDSASignature) -> P256.Signing.ECDSASignature {
        let raw = Array(signature.rawRepresentation)
        let negatedS = subtract(curveOrder, Array(raw[32..<64]))
        // (r, n - s) is a well-formed raw signature of the right length by construction.
        return try! P256.Signing.ECDSASignature(rawRepresentation: raw[0..<32] + negatedS)
    }

    private static func shiftedRightOneBit(_ value: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: value.count)
        var carry: UInt8 = 0
        for index in value.indices {
            result[index] = value[index] >> 1 | carry
            carry = value[index] << 7
        }
        return result
    }

    /// minuend - subtrahend for equal-length big-endian numbers with minuend ≥ subtrahend.
    private static func subtract(_ minuend: [UInt8], _ subtrahend: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: minuend.count)
        var borrow = 0
        for index in minuend.indices.reversed() {
            var difference = Int(minuend[index]) - Int(subtrahend[index]) - borrow
            borrow = difference < 0 ? 1 : 0
            if difference < 0 { difference += 256 }
            result[index] = UInt8(difference)
        }
        precondition(borrow == 0, "subtrahend exceeds the curve order")
        return result
    }
}
