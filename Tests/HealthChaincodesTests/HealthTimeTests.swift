import Foundation
import Testing

@testable import HealthChaincodes

@Suite struct HealthTimeTests {
    @Test func fixedWidthUTCWithMilliseconds() throws {
        #expect(try HealthTime.string(FakeLedger.epoch) == "2026-09-22T08:00:00.000Z")
        #expect(try HealthTime.string(FakeLedger.epoch.addingTimeInterval(0.0456)) == "2026-09-22T08:00:00.046Z")
        #expect(HealthTime.string(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(HealthTime.string(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(HealthTime.string(milliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(HealthTime.string(milliseconds: HealthTime.millisecondsMin) == "0001-01-01T00:00:00.000Z")
        #expect(HealthTime.string(milliseconds: HealthTime.millisecondsMax) == "9999-12-31T23:59:59.999Z")
    }

    @Test func parsesOffsetsAndFractionsAndNormalizes() {
        #expect(HealthTime.normalize("2026-09-22T10:00:00+02:00") == "2026-09-22T08:00:00.000Z")
        #expect(HealthTime.normalize("2026-09-22T03:30:00.5-04:30") == "2026-09-22T08:00:00.500Z")
        #expect(HealthTime.normalize("2026-09-22T08:00:00.123456789Z") == "2026-09-22T08:00:00.123Z")
        #expect(HealthTime.normalize("2026-01-01T00:30:00+01:00") == "2025-12-31T23:30:00.000Z")
        #expect(HealthTime.parse("2026-09-22T08:00:00.000Z") == 1_790_064_000_000)
    }

    @Test func refusesAnythingElse() {
        for text in [
            "", "2026-09-22", "2026-09-22T08:00:00", "2026-09-22 08:00:00Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z", "2026-09-22T24:00:00Z", "2026-09-22T08:60:00Z", "2026-09-22T08:00:60Z",
            "2026-09-22T08:00:00.Z", "2026-09-22T08:00:00.1234567890Z", "2026-09-22T08:00:00+2:00", "2026-09-22T08:00:00Zjunk",
            "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+00:01", "+2026-09-22T08:00:00Z", "２026-09-22T08:00:00Z",
        ] {
            #expect(HealthTime.parse(text) == nil, "\(text)")
        }
    }

    @Test func formatAndParseRoundTripAndSortInTimeOrder() {
        var generator = SeededGenerator(seed: 7)
        var previous: (Int64, String)?
        for _ in 0..<2000 {
            let milliseconds = Int64.random(in: HealthTime.millisecondsMin...HealthTime.millisecondsMax, using: &generator)
            let text = HealthTime.string(milliseconds: milliseconds)
            #expect(text.utf8.count == 24)
            #expect(HealthTime.parse(text) == milliseconds, "\(text)")
            if let (earlier, earlierText) = previous {
                #expect((earlier < milliseconds) == (earlierText < text))
            }
            previous = (milliseconds, text)
        }
    }
}

/// A small deterministic generator (SplitMix64), so property tests replay exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
