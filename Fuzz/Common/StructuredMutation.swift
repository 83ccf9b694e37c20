// Helpers for the structure-aware targets (signed-envelope, signed-proposal): a seeded random
// source, libFuzzer's byte mutator applied to one field, and dictionaries of interesting values.
import Foundation
import LedgerWire
import SwiftProtobuf

/// libFuzzer's own mutator (provided by the fuzzer runtime every target links).
@_silgen_name("LLVMFuzzerMutate")
func LLVMFuzzerMutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int) -> Int

/// SplitMix64 seeded from libFuzzer's per-mutation seed, so a mutation is reproducible.
struct MutationRandom {
    private var state: UInt64

    init(seed: UInt32) { state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 0x1234_5678 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 0 ..< bound (0 when bound is 0).
    mutating func below(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(next() % UInt64(bound)) }

    /// True `percent` times in 100.
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    mutating func pick<Element>(_ elements: [Element]) -> Element { elements[below(elements.count)] }
}

/// `bytes` mutated by libFuzzer's mutator (which uses its dictionaries and comparison feedback),
/// growing by at most `growth` bytes.
func fuzzerMutated(_ bytes: Data, growth: Int = 32) -> Data {
    var buffer = [UInt8](bytes) + [UInt8](repeating: 0, count: max(growth, 1))
    let size = bytes.count
    let newSize = buffer.withUnsafeMutableBufferPointer { LLVMFuzzerMutate($0.baseAddress!, size, $0.count) }
    return Data(buffer.prefix(min(newSize, buffer.count)))
}

func fuzzerMutated(_ text: String, growth: Int = 16) -> String {
    String(decoding: fuzzerMutated(Data(text.utf8), growth: growth), as: UTF8.self)
}

/// A string: from `dictionary` or libFuzzer-mutated.
func mutatedString(_ text: String, _ dictionary: [String], _ random: inout MutationRandom) -> String {
    random.chance(40) ? random.pick(dictionary) : fuzzerMutated(text)
}

enum Interesting {
    static let channels = [FuzzPKI.channel, "", "otherchannel", "anchor", "healthchannel\u{0}", String(repeating: "c", count: 300)]
    static let namespaces = ["cc", "two", "old", "_lifecycle", "", "nosuch", "phi", "access", "kv", "cc\u{0}x", "CC"]
    static let keys = [
        "a", "b", "order", "new", "x", "", "\u{0}", "a\u{0}b", "\u{10FFFF}", "\u{0}ORDER\u{0}ord-1\u{0}", "definition/cc", "ab",
        String(repeating: "k", count: 1024), "é", "\u{FFFF}",
    ]
    static let versions = ["1.0", "2.0", "", "1", String(repeating: "9", count: 100)]
    static let metadataNames = ["VALIDATION_PARAMETER", "", "X", String(repeating: "n", count: 300)]
    static let policies = [
        "'HospitalAMSP.peer'", "AND('HospitalAMSP.peer', 'HospitalBMSP.peer')", "'HospitalAMSP.client[is_supervisor=true]'", "garbage",
        "OutOf(0, 'HospitalAMSP.peer')", "", "OR(", String(repeating: "AND(", count: 40),
    ]
    static let headerTypes: [Int32] = [3, 1, 2, 0, 4, 5, 6, -1, Int32.max, Int32.min, 10_000]
    static let blockNumbers: [UInt64] = [0, 1, 2, 7, UInt64.max, UInt64.max - 1, 1 << 63, UInt64(UInt32.max)]
    static let transactionNumbers: [UInt64] = [0, 1, 2, 7, UInt64(UInt32.max), UInt64(UInt32.max) + 1, UInt64.max, 1 << 63]

    /// Timestamps near the checks' clock and at the edges of what the types hold.
    static func timestamp(_ random: inout MutationRandom) -> Google_Protobuf_Timestamp {
        let now = Int64(FuzzPKI.now.timeIntervalSince1970)
        var timestamp = Google_Protobuf_Timestamp()
        timestamp.seconds = random.pick([
            now, now - 300, now + 300, now - 301, now + 301, now - 86_400 * 400, 0, -1, 1, Int64.max, Int64.min, Int64.max - 1, Int64.min + 1,
            253_402_300_799, -62_135_596_800, 1 << 53, -(1 << 53), Int64(random.next() & 0xFFFF_FFFF_FFFF), now + Int64(random.below(1000)) - 500,
        ])
        timestamp.nanos = random.pick([0, 999_999_999, 1_000_000_000, -1, Int32.max, Int32.min, 500_000_000, Int32(random.below(1_000_000_000))])
        return timestamp
    }
}

/// A fixed identity other than by index: one of the fixed signers, or Fabric-like garbage.
func mutatedCreator(_ creator: Data, _ random: inout MutationRandom) -> Data {
    switch random.below(4) {
    case 0, 1: return Data(random.pick(FuzzNetwork.allIdentities).serialized)
    case 2: return fuzzerMutated(creator, growth: 64)
    default:
        var identity = Msp_SerializedIdentity()
        identity.mspid = random.pick(["HospitalAMSP", "HospitalBMSP", "OrdererMSP", "", "Org1MSP"])
        identity.idBytes = random.chance(50) ? Data(random.pick(FuzzNetwork.allIdentities).serialized) : fuzzerMutated(Data("-----BEGIN CERTIFICATE-----\n".utf8))
        return (try? identity.serializedData()) ?? creator
    }
}

/// Writes `bytes` into libFuzzer's buffer when they fit; the new size, or nil when they do not.
func storeMutation(_ bytes: Data, into data: UnsafeMutablePointer<UInt8>, maxSize: Int) -> Int? {
    guard bytes.count <= maxSize else { return nil }
    bytes.copyBytes(to: data, count: bytes.count)
    return bytes.count
}

/// A signed message taken apart for structure-aware mutation and put back together (re-signed).
protocol MutableMessageParts {
    init?(_ bytes: Data)
    mutating func mutate(_ random: inout MutationRandom)
    func assemble() throws -> Data
}

/// libFuzzer's custom mutator for a signed message of type `Parts`: inputs that do not decode get
/// byte-level mutation mostly, a fresh template sometimes; decoded ones get one to four inner
/// mutations and are re-assembled (and re-signed). Falls back to `LLVMFuzzerMutate`.
func mutateMessage<Parts: MutableMessageParts>(
    _: Parts.Type, _ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int, _ seed: UInt32, templates: [Data]
) -> Int {
    guard let data else { return 0 }
    var random = MutationRandom(seed: seed)
    var parts = Parts(Data(bytes: data, count: size))
    if parts == nil {
        if templates.isEmpty || random.chance(60) { return LLVMFuzzerMutate(data, size, maxSize) }
        parts = Parts(random.pick(templates))
    }
    guard var parts else { return LLVMFuzzerMutate(data, size, maxSize) }
    for _ in 0...random.below(3) { parts.mutate(&random) }
    guard let bytes = try? parts.assemble(), let newSize = storeMutation(bytes, into: data, maxSize: maxSize) else {
        return LLVMFuzzerMutate(data, size, maxSize)
    }
    return newSize
}
