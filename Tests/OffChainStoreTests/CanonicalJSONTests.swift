import Crypto
import Foundation
import Testing

@testable import OffChainStore

/// RFC 8785 (JSON Canonicalization Scheme) and the strict I-JSON parser under it. Expected values
/// are the RFC's and its author's published test data (github.com/cyberphone/json-canonicalization,
/// testdata/), reproduced here as vectors.
@Suite struct CanonicalJSONTests {
    /// Parses `text` and returns its canonical form as a string.
    static func canonical(_ text: String) throws -> String {
        String(decoding: try CanonicalJSON.encode(try JSONValue(parsing: Array(text.utf8))), as: UTF8.self)
    }

    /// The refusal of `bytes`, or a recorded issue when they parse.
    static func refusal(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> OffChainStoreError? {
        do {
            _ = try JSONValue(parsing: bytes)
            Issue.record("parsed input that should be refused", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.code == .invalidArgument, sourceLocation: sourceLocation)
            return error
        }
    }

    // MARK: Numbers

    /// RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical text.
    @Test func appendixBNumbers() {
        let table: [(UInt64, String)] = [
            (0x0000_0000_0000_0000, "0"), (0x8000_0000_0000_0000, "0"),
            (0x0000_0000_0000_0001, "5e-324"), (0x8000_0000_0000_0001, "-5e-324"),
            (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"), (0xffef_ffff_ffff_ffff, "-1.7976931348623157e+308"),
            (0x4340_0000_0000_0000, "9007199254740992"), (0xc340_0000_0000_0000, "-9007199254740992"),
            (0x4430_0000_0000_0000, "295147905179352830000"),
            (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"), (0x44b5_2d02_c7e1_4af6, "1e+23"),
            (0x44b5_2d02_c7e1_4af7, "1.0000000000000001e+23"),
            (0x444b_1ae4_d6e2_ef4e, "999999999999999700000"), (0x444b_1ae4_d6e2_ef4f, "999999999999999900000"),
            (0x444b_1ae4_d6e2_ef50, "1e+21"),
            (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"), (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
            (0x41b3_de43_5555_5553, "333333333.3333332"), (0x41b3_de43_5555_5554, "333333333.33333325"),
            (0x41b3_de43_5555_5555, "333333333.3333333"), (0x41b3_de43_5555_5556, "333333333.3333334"),
            (0x41b3_de43_5555_5557, "333333333.33333343"),
            (0xbecb_f647_612f_3696, "-0.0000033333333333333333"),
            (0x4314_3ff3_c1cb_0959, "1424953923781206.2"),
        ]
        for (bits, expected) in table {
            #expect(CanonicalJSON.numberText(Double(bitPattern: bits)) == expected, "0x\(String(bits, radix: 16))")
        }
        // NaN and the infinities have no JSON form: RFC 8785 requires an error.
        #expect(CanonicalJSON.numberText(Double(bitPattern: 0x7fff_ffff_ffff_ffff)) == nil)
        #expect(CanonicalJSON.numberText(.infinity) == nil)
        #expect(CanonicalJSON.numberText(-.infinity) == nil)
        #expect(throws: OffChainStoreError.self) { try CanonicalJSON.encode(.array([.number(.nan)])) }
    }

    @Test func numberLayoutFollowsECMAScript() throws {
        let cases: [(String, String)] = [
            ("1e21", "1e+21"), ("1e20", "100000000000000000000"), ("1e-7", "1e-7"), ("1.5e-7", "1.5e-7"),
            ("0.000001", "0.000001"), ("1.23e-18", "1.23e-18"), ("-0", "0"), ("-0.0", "0"), ("0.1", "0.1"),
            ("100", "100"), ("56.0", "56"), ("4.50", "4.5"), ("2e-3", "0.002"), ("1E30", "1e+30"),
            ("123456789012345678901234", "1.2345678901234569e+23"), ("12345678901234567890", "12345678901234567000"),
            ("1e-400", "0"), ("-1.5", "-1.5"), ("0.000001234", "0.000001234"),
        ]
        for (input, expected) in cases {
            #expect(try Self.canonical(input) == expected, "\(input)")
        }
    }

    /// The first 100,000 lines of the RFC author's ES6 number corpus (testdata/README.md: static
    /// edge cases, 2,000 subnormal neighbours, then doubles drawn from a SHA-256 chain), formatted
    /// here and hashed; the published SHA-256 of the first 1,000, 10,000 and 100,000 lines.
    @Test func es6NumberCorpus() {
        let published: [Int: String] = [
            1_000: "be18b62b6f69cdab33a7e0dae0d9cfa869fda80ddc712221570f9f40a5878687",
            10_000: "b9f7a8e75ef22a835685a52ccba7f7d6bdc99e34b010992cbc5864cd12be6892",
            100_000: "22776e6d4b49fa294a0d0f349268e5c28808fe7e0cb2bcbe28f63894e494d4c7",
        ]
        var generator = ES6NumberCorpus()
        var hash = SHA256()
        for line in 1...100_000 {
            let value = generator.next()
            let text = "\(String(value.bitPattern, radix: 16)),\(CanonicalJSON.numberText(value) ?? "?")\n"
            hash.update(data: Data(text.utf8))
            if let expected = published[line] {
                let digest = hash  // a copy: finalize() consumes it
                #expect(
                    digest.finalize().map { String(format: "%02x", $0) }.joined() == expected, "first \(line) lines")
            }
        }
    }

    // MARK: Strings and sorting

    /// RFC 8785 §3.2.3: members sorted by UTF-16 code units (U+1F600 before U+FB33).
    @Test func sortsByUTF16CodeUnits() throws {
        let input = #"""
            {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One",
             "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}
            """#
        let expected =
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"\u{F6}\":\"Latin Small Letter O With Diaeresis\","
            + "\"\u{20AC}\":\"Euro Sign\",\"\u{1F600}\":\"Emoji: Grinning Face\",\"\u{FB33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        #expect(try Self.canonical(input) == expected)
    }

    /// The input and output files of cyberphone/json-canonicalization testdata/, byte for byte.
    @Test(arguments: [
        (
            "arrays", "[\n  56,\n  {\n    \"d\": true,\n    \"10\": null,\n    \"1\": [ ]\n  }\n]\n",
            "[56,{\"1\":[],\"10\":null,\"d\":true}]"
        ),
        (
            "french",
            "{\n  \"peach\": \"This sorting order\",\n  \"p\u{E9}ch\u{E9}\": \"is wrong according to French\",\n  \"p\u{EA}che\": \"but canonicalization MUST\",\n  \"sin\":   \"ignore locale\"\n}\n",
            "{\"peach\":\"This sorting order\",\"p\u{E9}ch\u{E9}\":\"is wrong according to French\",\"p\u{EA}che\":\"but canonicalization MUST\",\"sin\":\"ignore locale\"}"
        ),
        (
            "structures",
            "{\n  \"1\": {\"f\": {\"f\": \"hi\",\"F\": 5} ,\"\\n\": 56.0},\n  \"10\": { },\n  \"\": \"empty\",\n  \"a\": { },\n  \"111\": [ {\"e\": \"yes\",\"E\": \"no\" } ],\n  \"A\": { }\n}",
            "{\"\":\"empty\",\"1\":{\"\\n\":56,\"f\":{\"F\":5,\"f\":\"hi\"}},\"10\":{},\"111\":[{\"E\":\"no\",\"e\":\"yes\"}],\"A\":{},\"a\":{}}"
        ),
        (
            "unicode", "{\n  \"Unnormalized Unicode\":\"A\\u030a\"\n}\n",
            "{\"Unnormalized Unicode\":\"A\u{30A}\"}"
        ),
        (
            "values",
            "{\n  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n  \"literals\": [null, true, false]\n}",
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u{20AC}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        ),
        (
            "weird",
            "{\n  \"\\u20ac\": \"Euro Sign\",\n  \"\\r\": \"Carriage Return\",\n  \"\\u000a\": \"Newline\",\n  \"1\": \"One\",\n  \"\\u0080\": \"Control\\u007f\",\n  \"\\ud83d\\ude02\": \"Smiley\",\n  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\",\n  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n  \"</script>\": \"Browser Challenge\"\n}\n",
            "{\"\\n\":\"Newline\",\"\\r\":\"Carriage Return\",\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\u{80}\":\"Control\u{7F}\",\"\u{F6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20AC}\":\"Euro Sign\",\"\u{1F602}\":\"Smiley\",\"\u{FB33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        ),
    ])
    func cyberphoneTestData(name: String, input: String, expected: String) throws {
        let output = try CanonicalJSON.encode(try JSONValue(parsing: Array(input.utf8)))
        #expect(output == Array(expected.utf8), "\(name)")
        // Canonical output is a fixed point.
        #expect(try CanonicalJSON.encode(try JSONValue(parsing: output)) == output, "\(name)")
    }

    /// The byte-level comparison agrees with UTF-16 code unit order on random strings.
    @Test func sortOrderIsUTF16CodeUnitOrder() {
        var random = SplitMix64(seed: 0x7574_6631_36)
        let edges = [
            "", "a", "\u{7F}", "\u{80}", "\u{FF}", "\u{D7FF}", "\u{E000}", "\u{FB33}", "\u{FFFD}", "\u{10000}",
            "\u{1F600}", "\u{10FFFD}",
        ]
        var strings = edges
        for _ in 0..<400 { strings.append(RandomJSON.string(&random)) }
        for first in strings {
            for second in strings.prefix(60) {
                let expected = first.utf16.lexicographicallyPrecedes(second.utf16)
                #expect(
                    CanonicalJSON.precedesInUTF16(first, second) == expected,
                    "\(Array(first.unicodeScalars)) \(Array(second.unicodeScalars))")
            }
        }
    }

    @Test func escapesStringsAsJSONStringify() throws {
        #expect(
            try Self.canonical(#"["\u0000\u001f\u0008\u000c\n\r\t\"\\\/\u007f\u00e9"]"#)
                == "[\"\\u0000\\u001f\\b\\f\\n\\r\\t\\\"\\\\/\u{7F}\u{E9}\"]")
        #expect(try Self.canonical(#"{"b":[],"a":{},"c":"x"}"#) == #"{"a":{},"b":[],"c":"x"}"#)
        #expect(try Self.canonical(" [ true , false , null ] ") == "[true,false,null]")
    }

    // MARK: Parser refusals

    @Test func refusesDuplicateMemberNames() {
        #expect(Self.refusal(Array(#"{"a":1,"a":2}"#.utf8))?.reason.contains("duplicate member name") == true)
        // The same name spelled with an escape is the same name.
        #expect(Self.refusal(Array(#"{"a":1,"\u0061":2}"#.utf8))?.reason.contains("duplicate member name") == true)
        // Canonically equivalent but different scalars are different names (no normalization).
        #expect((try? JSONValue(parsing: Array("{\"\u{E9}\":1,\"e\u{301}\":2}".utf8))) != nil)
    }

    @Test func refusesLoneSurrogatesAndNoncharacters() {
        for text in [
            #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud800x""#, #""\udbff\udbff""#, #"["\ude00\ud83d"]"#,
        ] {
            #expect(Self.refusal(Array(text.utf8))?.reason.contains("surrogate") == true, "\(text)")
        }
        for text in [#""\ufffe""#, #""\uffff""#, #""\ufdd0""#, #""\ud83f\udfff""#] {
            #expect(Self.refusal(Array(text.utf8))?.reason.contains("noncharacter") == true, "\(text)")
        }
        #expect(Self.refusal([0x22, 0xEF, 0xBF, 0xBF, 0x22])?.reason.contains("noncharacter") == true)
        #expect(Self.refusal([0x22, 0xEF, 0xB7, 0x90, 0x22])?.reason.contains("noncharacter") == true)
    }

    @Test func refusesDeepNestingWithoutRecursingDeeply() {
        let depth = 100_000
        #expect(
            Self.refusal(Array(repeating: UInt8(ascii: "["), count: depth))?.reason.contains("nest deeper than 128")
                == true)
        #expect(
            Self.refusal(Array(String(repeating: #"{"a":"#, count: depth).utf8))?.reason.contains("nest deeper") == true
        )
        #expect(
            Self.refusal(
                Array((String(repeating: "[", count: 1_000_000) + String(repeating: "]", count: 1_000_000)).utf8))
                != nil)
        // Exactly the limit is fine.
        let limit = JSONValue.nestingDepthMax
        let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect((try? CanonicalJSON.encode(try JSONValue(parsing: Array(deepest.utf8)))) == Array(deepest.utf8))
        #expect(Self.refusal(Array(("[" + deepest + "]").utf8)) != nil)
        // A value built by hand deeper than the limit is refused by the encoder, not recursed into.
        var deep = JSONValue.null
        for _ in 0..<(limit + 1) { deep = .array([deep]) }
        #expect(throws: OffChainStoreError.self) { try CanonicalJSON.encode(deep) }
    }

    @Test func refusesNumbersOutsideTheGrammarOrADouble() {
        for text in ["1e400", "-1e400", "1" + String(repeating: "0", count: 400)] {
            #expect(Self.refusal(Array(text.utf8))?.reason.contains("beyond the range") == true, "\(text)")
        }
        for text in ["01", "-01", "00", "-00.5"] {
            #expect(Self.refusal(Array(text.utf8))?.reason.contains("leading zero") == true, "\(text)")
        }
        for text in ["+1", ".5", "1.", "1e", "1e+", "-", "NaN", "Infinity", "-Infinity", "0x10", "1.e5", "--1"] {
            #expect(Self.refusal(Array(text.utf8)) != nil, "\(text)")
        }
    }

    @Test func refusesInvalidUTF8() {
        let sequences: [[UInt8]] = [
            [0xC0, 0x80],  // overlong NUL
            [0xC1, 0xBF],  // overlong
            [0xE0, 0x80, 0xAF],  // overlong '/'
            [0xED, 0xA0, 0x80],  // an encoded surrogate
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xFE],
            [0x80],  // a lone continuation byte
            [0xE2, 0x82],  // truncated (then the closing quote)
            [0xE2, 0x28, 0xA1],
        ]
        for sequence in sequences {
            #expect(Self.refusal([0x22] + sequence + [0x22])?.reason.contains("UTF-8") == true, "\(sequence)")
        }
        #expect(Self.refusal([0xEF, 0xBB, 0xBF] + Array("{}".utf8))?.reason.contains("byte order mark") == true)
        #expect(Self.refusal([0x7B, 0xFF, 0x7D]) != nil)  // outside a string
    }

    @Test func refusesTrailingBytesAndBrokenStructure() {
        for text in ["{} x", "1 2", "[]]", "{}{}", "nulll", "\"a\" \"b\"", "[1] ,"] {
            #expect(Self.refusal(Array(text.utf8))?.reason.contains("after the JSON value") == true, "\(text)")
        }
        let broken = [
            "", " ", "[", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\"}", "{\"a\" 1}", "{1:2}", "{'a':1}", "tru", "nul",
            "fals",
            "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\", "[\"a\"", "{\"a\":", "\u{A0}1",
        ]
        for text in broken {
            #expect(Self.refusal(Array(text.utf8)) != nil, "\(text)")
        }
        // Control characters must be escaped inside strings.
        for byte: UInt8 in [0x00, 0x09, 0x0A, 0x1F] {
            #expect(Self.refusal([0x22, byte, 0x22])?.reason.contains("control character") == true)
        }
        // The reason names the byte offset.
        #expect(Self.refusal(Array(#"{"a": tru}"#.utf8))?.reason.contains("at byte 6") == true)
    }

    @Test func equalityIsByCanonicalForm() throws {
        let first = try JSONValue(parsing: Array(#"{"a":[1,2.0,{"x":null}],"b":"\u00e9"}"#.utf8))
        let second = try JSONValue(parsing: Array(#"{"b":"é","a":[1.0,2,{"x":null}]}"#.utf8))
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(JSONValue.string("\u{E9}") != JSONValue.string("e\u{301}"))
        #expect(JSONValue.number(0) == JSONValue.number(-0.0))
        #expect(throws: OffChainStoreError.self) {
            try CanonicalJSON.encode(.object([(name: "a", value: .null), (name: "a", value: .bool(true))]))
        }
    }

    // MARK: Properties

    /// canonical(parse(scrambled(x))) == canonical(x) == canonical(parse(canonical(x))) for
    /// random values written with random member order, whitespace, escapes and number spellings.
    @Test func canonicalFormIsStableOverRandomValues() throws {
        var random = SplitMix64(seed: 0x6d65_6472_6578)
        for round in 0..<400 {
            let value = RandomJSON.value(&random, depth: 0)
            let canonical = try CanonicalJSON.encode(value)
            let reparsed = try JSONValue(parsing: canonical)
            #expect(reparsed == value, "round \(round)")
            #expect(try CanonicalJSON.encode(reparsed) == canonical, "round \(round)")
            let scrambled = RandomJSON.scrambled(value, &random)
            #expect(
                try CanonicalJSON.encode(try JSONValue(parsing: Array(scrambled.utf8))) == canonical, "round \(round)")
        }
    }

    /// Random byte mutations of valid JSON: every one parses or is refused; none traps.
    @Test func mutatedInputNeverTraps() {
        var random = SplitMix64(seed: 42)
        let seeds = [
            #"{"a":[1,-2.5e-3,"x\u00e9\ud83d\ude00",true,null],"b":{"c":"\\\"/"}}"#, #"[[[[0]]],{"":{}},1e308]"#,
        ].map { Array($0.utf8) }
        let interesting: [UInt8] = [
            0x00, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x80, 0xC0, 0xED, 0xEF, 0xF4, 0xFF, 0x30, 0x2D, 0x65,
        ]
        var parsed = 0
        for _ in 0..<3_000 {
            var bytes = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0...(random.next() % 4) {
                let index = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 4 {
                case 0: bytes[index] = interesting[Int(random.next() % UInt64(interesting.count))]
                case 1: bytes.remove(at: index)
                case 2: bytes.insert(interesting[Int(random.next() % UInt64(interesting.count))], at: index)
                default: bytes[index] = UInt8(truncatingIfNeeded: random.next())
                }
                if bytes.isEmpty { bytes = [0x5B] }
            }
            if let value = try? JSONValue(parsing: bytes) {
                parsed += 1
                #expect((try? CanonicalJSON.encode(value)) != nil)
            }
        }
        #expect(parsed > 0)
    }

    /// A large document parses and canonicalizes in reasonable time (bytes, not Characters).
    @Test func largeDocumentIsFast() throws {
        var text = "{\"items\":["
        for index in 0..<40_000 {
            if index > 0 { text += "," }
            text +=
                #"{"id":"item-\#(index)","value":\#(Double(index) * 1.25),"text":"Lorem ipsum dolor sit amet, \u00e9\u00e8 consectetur adipiscing elit \#(index)","flag":true}"#
        }
        text += "],\"blob\":\"" + String(repeating: "abcdefghij", count: 400_000) + "\"}"
        let bytes = Array(text.utf8)
        let clock = ContinuousClock()
        var canonical: [UInt8] = []
        let elapsed = try clock.measure {
            canonical = try CanonicalJSON.encode(try JSONValue(parsing: bytes))
        }
        #expect(canonical.count > 4_000_000)
        #expect(elapsed < .seconds(30), "\(bytes.count) bytes took \(elapsed)")
    }
}

/// The generator of the RFC author's ES6 number test file (testdata/numgen.js), re-stated.
struct ES6NumberCorpus {
    static let staticValues: [UInt64] = [
        0x0000_0000_0000_0000, 0x8000_0000_0000_0000, 0x0000_0000_0000_0001, 0x8000_0000_0000_0001,
        0xc466_9669_5dbd_1cc3, 0xc432_11ed_e497_4a35,
        0xc3fc_e97c_a0f2_1056, 0xc3c7_2130_80c1_a6ac, 0xc392_80f3_9a34_8556, 0xc35d_9b1f_5d20_d557,
        0xc327_af4c_4a80_aaac, 0xc2f2_f2a3_6ecd_5556,
        0xc2be_5105_7e15_5558, 0xc288_40d1_31aa_aaac, 0xc253_670d_c155_5557, 0xc21f_0b49_3555_5557,
        0xc1e8_d5d4_2aaa_aaac, 0xc1b3_de43_5555_5556,
        0xc17f_ca05_5555_5556, 0xc149_6e6a_aaaa_aaab, 0xc114_5855_5555_5555, 0xc0e0_46aa_aaaa_aaab,
        0xc0aa_0aaa_aaaa_aaaa, 0xc074_d555_5555_5555,
        0xc040_aaaa_aaaa_aaab, 0xc00a_aaaa_aaaa_aaab, 0xbfd5_5555_5555_5555, 0xbfa1_1111_1111_1111,
        0xbf6b_4e81_b4e8_1b4f, 0xbf35_d867_c3ec_e2a5,
        0xbf01_79ec_9cbd_821e, 0xbecb_f647_612f_3696, 0xbe96_5e9f_80f2_9212, 0xbe61_e54c_6728_74db,
        0xbe2c_a213_d840_baf8, 0xbdf6_e80f_e033_c8c6,
        0xbdc2_533f_e68f_d3d2, 0xbd8d_51ff_d74c_861c, 0xbd57_74cc_ac3d_3817, 0xbd22_c3d6_f030_f9ac,
        0xbcee_0624_b381_8f79, 0xbcb8_04ea_2934_72c7,
        0xbc83_3721_ba90_5bd3, 0xbc4e_be9c_5db3_c61e, 0xbc18_987d_17c3_04e5, 0xbbe3_ad30_dfcf_371d,
        0xbbaf_7b81_6618_582f, 0xbb79_2f9a_b813_79bf,
        0xbb44_2615_600f_9499, 0xbb10_1e77_800c_76e1, 0xbad9_ca58_cce0_be35, 0xbaa4_a1e0_a3e6_fe90,
        0xba70_8180_831f_320d, 0xba3a_68cd_9e98_5016,
        0x4466_9669_5dbd_1cc3, 0x4432_11ed_e497_4a35, 0x43fc_e97c_a0f2_1056, 0x43c7_2130_80c1_a6ac,
        0x4392_80f3_9a34_8556, 0x435d_9b1f_5d20_d557,
        0x4327_af4c_4a80_aaac, 0x42f2_f2a3_6ecd_5556, 0x42be_5105_7e15_5558, 0x4288_40d1_31aa_aaac,
        0x4253_670d_c155_5557, 0x421f_0b49_3555_5557,
        0x41e8_d5d4_2aaa_aaac, 0x41b3_de43_5555_5556, 0x417f_ca05_5555_5556, 0x4149_6e6a_aaaa_aaab,
        0x4114_5855_5555_5555, 0x40e0_46aa_aaaa_aaab,
        0x40aa_0aaa_aaaa_aaaa, 0x4074_d555_5555_5555, 0x4040_aaaa_aaaa_aaab, 0x400a_aaaa_aaaa_aaab,
        0x3fd5_5555_5555_5555, 0x3fa1_1111_1111_1111,
        0x3f6b_4e81_b4e8_1b4f, 0x3f35_d867_c3ec_e2a5, 0x3f01_79ec_9cbd_821e, 0x3ecb_f647_612f_3696,
        0x3e96_5e9f_80f2_9212, 0x3e61_e54c_6728_74db,
        0x3e2c_a213_d840_baf8, 0x3df6_e80f_e033_c8c6, 0x3dc2_533f_e68f_d3d2, 0x3d8d_51ff_d74c_861c,
        0x3d57_74cc_ac3d_3817, 0x3d22_c3d6_f030_f9ac,
        0x3cee_0624_b381_8f79, 0x3cb8_04ea_2934_72c7, 0x3c83_3721_ba90_5bd3, 0x3c4e_be9c_5db3_c61e,
        0x3c18_987d_17c3_04e5, 0x3be3_ad30_dfcf_371d,
        0x3baf_7b81_6618_582f, 0x3b79_2f9a_b813_79bf, 0x3b44_2615_600f_9499, 0x3b10_1e77_800c_76e1,
        0x3ad9_ca58_cce0_be35, 0x3aa4_a1e0_a3e6_fe90,
        0x3a70_8180_831f_320d, 0x3a3a_68cd_9e98_5016, 0x4024_0000_0000_0000, 0x4014_0000_0000_0000,
        0x3fe0_0000_0000_0000, 0x3fa9_9999_9999_999a,
        0x3f74_7ae1_47ae_147b, 0x3f40_624d_d2f1_a9fc, 0x3f0a_36e2_eb1c_432d, 0x3ed4_f8b5_88e3_68f1,
        0x3ea0_c6f7_a0b5_ed8d, 0x3e6a_d7f2_9abc_af48,
        0x3e35_798e_e230_8c3a, 0x3ed5_3922_3589_fa95, 0x3ed4_ff26_cd5a_7781, 0x3ed4_f95a_7622_83ff,
        0x3ed4_f8c6_0703_520c, 0x3ed4_f8b7_2f19_cd0d,
        0x3ed4_f8b5_b31c_0c8d, 0x3ed4_f8b5_8d1c_461a, 0x3ed4_f8b5_894f_7f0e, 0x3ed4_f8b5_88ee_37f3,
        0x3ed4_f8b5_88e4_7da4, 0x3ed4_f8b5_88e3_849c,
        0x3ed4_f8b5_88e3_6bb5, 0x3ed4_f8b5_88e3_6937, 0x3ed4_f8b5_88e3_68f8, 0x3ed4_f8b5_88e3_68f1,
        0x3ff0_0000_0000_0000, 0xbff0_0000_0000_0000,
        0xbfef_ffff_ffff_fffa, 0xbfef_ffff_ffff_fffb, 0x3fef_ffff_ffff_fffa, 0x3fef_ffff_ffff_fffb,
        0x3fef_ffff_ffff_fffc, 0x3fef_ffff_ffff_fffe,
        0xbfef_ffff_ffff_ffff, 0xbfef_ffff_ffff_ffff, 0x3fef_ffff_ffff_ffff, 0x3fef_ffff_ffff_ffff,
        0x3fd3_3333_3333_3332, 0x3fd3_3333_3333_3333,
        0x3fd3_3333_3333_3334, 0x0010_0000_0000_0000, 0x000f_ffff_ffff_fffd, 0x000f_ffff_ffff_ffff,
        0x7fef_ffff_ffff_ffff, 0xffef_ffff_ffff_ffff,
        0x4340_0000_0000_0000, 0xc340_0000_0000_0000, 0x4430_0000_0000_0000, 0x44b5_2d02_c7e1_4af5,
        0x44b5_2d02_c7e1_4af6, 0x44b5_2d02_c7e1_4af7,
        0x444b_1ae4_d6e2_ef4e, 0x444b_1ae4_d6e2_ef4f, 0x444b_1ae4_d6e2_ef50, 0x3eb0_c6f7_a0b5_ed8c,
        0x3eb0_c6f7_a0b5_ed8d, 0x41b3_de43_5555_5553,
        0x41b3_de43_5555_5554, 0x41b3_de43_5555_5555, 0x41b3_de43_5555_5556, 0x41b3_de43_5555_5557,
        0xbecb_f647_612f_3696, 0x4314_3ff3_c1cb_0959,
    ]
    static let serialCount = 2_000

    private var index = 0
    private var block = [UInt8](repeating: 0, count: 32)
    private var pending: [Double] = []

    /// The next double: the static values, then 0x0010000000000000 + i, then the little-endian
    /// doubles of block = SHA-256(block), skipping zeros and non-finite values.
    mutating func next() -> Double {
        defer { index += 1 }
        if index < Self.staticValues.count { return Double(bitPattern: Self.staticValues[index]) }
        if index < Self.staticValues.count + Self.serialCount {
            return Double(bitPattern: 0x0010_0000_0000_0000 + UInt64(index - Self.staticValues.count))
        }
        while true {
            if pending.isEmpty {
                block = Array(SHA256.hash(data: block))
                pending = (0..<4).map { word in
                    Double(bitPattern: (0..<8).reduce(UInt64(0)) { $0 | UInt64(block[word * 8 + $1]) << (8 * $1) })
                }
            }
            let value = pending.removeFirst()
            if value != 0, value.isFinite { return value }
        }
    }
}

/// A seeded generator (SplitMix64), so a failure names the seed that reproduces it.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random JSON values, and random non-canonical spellings of them.
enum RandomJSON {
    static func value(_ random: inout SplitMix64, depth: Int) -> JSONValue {
        let kind = depth >= 4 ? random.next() % 4 : random.next() % 6
        switch kind {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2: return .number(number(&random))
        case 3: return .string(string(&random))
        case 4: return .array((0..<Int(random.next() % 5)).map { _ in value(&random, depth: depth + 1) })
        default:
            var members: [(name: String, value: JSONValue)] = []
            for _ in 0..<Int(random.next() % 6) {
                let name = string(&random)
                if members.contains(where: { $0.name.utf8.elementsEqual(name.utf8) }) { continue }
                members.append((name, value(&random, depth: depth + 1)))
            }
            return .object(members)
        }
    }

    static func number(_ random: inout SplitMix64) -> Double {
        switch random.next() % 4 {
        case 0: return Double(Int64(bitPattern: random.next()) % 1_000_000)
        case 1: return Double(Int64(bitPattern: random.next()) % 1_000_000) / 1_000
        default:
            while true {
                let value = Double(bitPattern: random.next())
                if value.isFinite { return value }
            }
        }
    }

    static func string(_ random: inout SplitMix64) -> String {
        let pools: [ClosedRange<UInt32>] = [0x20...0x7E, 0x00...0x1F, 0x80...0x7FF, 0x800...0xFFFD, 0x10000...0x10FFFD]
        var scalars = String.UnicodeScalarView()
        for _ in 0..<Int(random.next() % 8) {
            let pool = pools[Int(random.next() % 10 < 6 ? 0 : random.next() % UInt64(pools.count))]
            let candidate = pool.lowerBound + UInt32(random.next() % UInt64(pool.count))
            guard let scalar = Unicode.Scalar(candidate), !(0xFDD0...0xFDEF).contains(candidate),
                candidate & 0xFFFE != 0xFFFE
            else {
                continue
            }
            scalars.append(scalar)
        }
        return String(scalars)
    }

    /// `value` as JSON text with shuffled members, random whitespace, random `\u` escapes and
    /// numbers in exponent form.
    static func scrambled(_ value: JSONValue, _ random: inout SplitMix64) -> String {
        let space = [" ", "\n", "\t", "\r", ""][Int(random.next() % 5)]
        switch value {
        case .null: return space + "null"
        case .bool(let flag): return space + (flag ? "true" : "false")
        case .number(let number):
            return space
                + (random.next() % 2 == 0 ? String(format: "%.17e", number) : (CanonicalJSON.numberText(number) ?? "0"))
        case .string(let text): return space + scrambledString(text, &random)
        case .array(let items):
            return space + "[" + items.map { scrambled($0, &random) }.joined(separator: ",") + space + "]"
        case .object(let members):
            var shuffled = members
            shuffled.shuffle(using: &random)
            return space + "{"
                + shuffled.map { scrambledString($0.name, &random) + space + ":" + scrambled($0.value, &random) }
                .joined(separator: ",")
                + "}" + space
        }
    }

    static func scrambledString(_ text: String, _ random: inout SplitMix64) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            let escape = random.next() % 3 == 0 || scalar.value < 0x20 || scalar == "\"" || scalar == "\\"
            guard escape else {
                output.unicodeScalars.append(scalar)
                continue
            }
            for unit in String(scalar).utf16 {
                output += "\\u" + String(format: random.next() % 2 == 0 ? "%04x" : "%04X", unit)
            }
        }
        return output + "\""
    }
}
