import Testing

@testable import Chaincode

@Suite struct CompositeKeyTests {
    @Test func encodesLikeFabric() throws {
        let key = try CompositeKey.make(objectType: "VITAL", attributes: ["patient-1", "ecg-7", "2026-11-25T07:00:00Z"])
        #expect(key == "\u{0}VITAL\u{0}patient-1\u{0}ecg-7\u{0}2026-11-25T07:00:00Z\u{0}")
        #expect(Array(key.utf8.prefix(7)) == [0, 86, 73, 84, 65, 76, 0])
        #expect(try CompositeKey.make(objectType: "T", attributes: []) == "\u{0}T\u{0}")
    }

    @Test func splitInvertsMake() throws {
        let cases: [(String, [String])] = [("owner~asset", ["alice", "a1"]), ("T", []), ("T", [""]), ("ünï", ["ç", "😀", ""])]
        for (type, attributes) in cases {
            let split = try CompositeKey.split(try CompositeKey.make(objectType: type, attributes: attributes))
            #expect(split.objectType == type)
            #expect(split.attributes == attributes)
        }
    }

    @Test func partialKeysArePrefixesThatSortTogether() throws {
        let prefix = try CompositeKey.make(objectType: "AUDIT", attributes: ["p1"])
        let inside = try CompositeKey.make(objectType: "AUDIT", attributes: ["p1", "2026"])
        let outside = try CompositeKey.make(objectType: "AUDIT", attributes: ["p10", "2026"])
        #expect(inside.hasPrefix(prefix))
        #expect(!outside.hasPrefix(prefix))
    }

    @Test func rejectsReservedCodePoints() {
        for (type, attributes) in [("", ["a"]), ("a\u{0}b", []), ("T", ["x\u{0}"]), ("T", ["\u{10FFFF}"]), ("\u{10FFFF}", [])] {
            #expect(throws: ChaincodeError.self) { try CompositeKey.make(objectType: type, attributes: attributes) }
        }
    }

    @Test func distinguishesSimpleKeys() throws {
        try CompositeKey.checkSimpleKey("patient-1")
        #expect(throws: ChaincodeError.self) { try CompositeKey.checkSimpleKey("\u{0}x") }
        #expect(throws: ChaincodeError.self) { try CompositeKey.checkSimpleKey("") }
        #expect(throws: ChaincodeError.self) { try CompositeKey.split("simple") }
        #expect(CompositeKey.isComposite(try CompositeKey.make(objectType: "T", attributes: [])))
    }
}
