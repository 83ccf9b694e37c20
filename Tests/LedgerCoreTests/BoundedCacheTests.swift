import Testing

@testable import LedgerCore

@Suite struct BoundedCacheTests {
    @Test func keepsMadeValuesNotFailuresAndStartsOverWhenFull() {
        let cache = BoundedCache<String, Int>(capacity: 2)
        var made = 0
        let parse = { (text: String) -> Int? in
            made += 1
            return Int(text)
        }
        #expect(cache.value(for: "1", orMake: parse) == 1)
        #expect(cache.value(for: "1", orMake: parse) == 1)
        #expect(made == 1)
        // A key that makes nothing is not kept: it is tried again.
        #expect(cache.value(for: "x", orMake: parse) == nil)
        #expect(cache.value(for: "x", orMake: parse) == nil)
        #expect(made == 3)
        #expect(cache.value(for: "2", orMake: parse) == 2)
        // Full (2 entries): the third key empties it, so "1" is made again.
        #expect(cache.value(for: "3", orMake: parse) == 3)
        #expect(cache.value(for: "1", orMake: parse) == 1)
        #expect(made == 6)
    }
}
