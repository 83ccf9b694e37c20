/// The fuzzer's only source of randomness: xoshiro256** seeded through SplitMix64, so that a run
/// is reproduced by its seed (the order of requests and every mutation decision; signatures and
/// timestamps of freshly signed messages still differ, which is why failing requests are recorded
/// byte for byte).
package struct FuzzRandom: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    package init(seed: UInt64) {
        var splitMix = seed
        func next() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (next(), next(), next(), next())
    }

    package mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    private func rotateLeft(_ value: UInt64, _ count: UInt64) -> UInt64 { (value << count) | (value >> (64 - count)) }

    /// A value in `0..<bound`; `bound` must be positive.
    package mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "FuzzRandom.below needs a positive bound")
        return Int.random(in: 0..<bound, using: &self)
    }

    /// True with probability `numerator / denominator`.
    package mutating func chance(_ numerator: Int, in denominator: Int) -> Bool { below(denominator) < numerator }

    package mutating func element<Element>(of elements: [Element]) -> Element {
        elements[below(elements.count)]
    }

    package mutating func bytes(count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}
