import Foundation
import LedgerCore
import LedgerWire
import Testing

@testable import Orderer

@Suite struct DependencyReorderingTests {
    /// An endorser transaction of namespace `cc` reading and writing the given keys, named by `tag`
    /// (its nonce), so tests can tell envelopes apart.
    static func transaction(_ tag: UInt8, reads: [String] = [], writes: [String] = [], ranges: [(String, String)] = []) throws -> Data {
        var builder = EndorserTransactionBuilder(
            channelID: "ch", chaincodeName: "cc", creator: Data("creator".utf8), nonce: Data([tag]), timestamp: Date(timeIntervalSince1970: 1_800_000_000))
        var set = Kvrwset_KVRWSet()
        set.reads = reads.map { key in
            var read = Kvrwset_KVRead()
            read.key = key
            read.version.blockNum = 1
            return read
        }
        set.writes = writes.map { key in
            var write = Kvrwset_KVWrite()
            write.key = key
            write.value = Data([tag])
            return write
        }
        set.rangeQueriesInfo = ranges.map { start, end in
            var info = Kvrwset_RangeQueryInfo()
            info.startKey = start
            info.endKey = end
            return info
        }
        builder.readWriteSets = [("cc", set)]
        return try builder.envelope().serializedData()
    }

    /// A read-modify-write of `keys`.
    static func update(_ tag: UInt8, _ keys: String...) throws -> Data { try transaction(tag, reads: keys, writes: keys) }

    /// The tags of the envelopes in order (non-endorser envelopes: their first byte + 100).
    static func tags(_ envelopes: [Data]) -> [Int] {
        envelopes.map { bytes in
            guard let envelope = try? TransactionEnvelope(serialized: bytes),
                let header = try? Common_SignatureHeader(serializedBytes: envelope.payload.header.signatureHeader), envelope.headerType == .endorserTransaction
            else { return Int(bytes.first ?? 0) + 100 }
            return Int(header.nonce.first!)
        }
    }

    @Test func readerOfAKeyMovesBeforeItsWriter() throws {
        let batch = [try Self.transaction(0, writes: ["a"]), try Self.transaction(1, reads: ["a"], writes: ["b"])]
        let outcome = DependencyReordering.reorder(batch)
        #expect(Self.tags(outcome.envelopes) == [1, 0])
        #expect(outcome.doomed == 0 && outcome.moved == 2)
    }

    @Test func independentTransactionsKeepTheirOrder() throws {
        let batch = try (0..<5).map { try Self.update(UInt8($0), "k\($0)") }
        let outcome = DependencyReordering.reorder(batch)
        #expect(outcome.envelopes == batch && outcome.moved == 0)
    }

    @Test func chainOfReadersIsOrderedReadersFirst() throws {
        // 0 writes a; 1 reads a, writes b; 2 reads b, writes c: valid only as 2, 1, 0.
        let batch = [
            try Self.transaction(0, writes: ["a"]), try Self.transaction(1, reads: ["a"], writes: ["b"]),
            try Self.transaction(2, reads: ["b"], writes: ["c"]),
        ]
        #expect(Self.tags(DependencyReordering.reorder(batch).envelopes) == [2, 1, 0])
    }

    @Test func twoUpdatesOfOneKeyDoomTheLaterOneToTheEnd() throws {
        let batch = [try Self.update(0, "a"), try Self.update(1, "a"), try Self.update(2, "b")]
        let outcome = DependencyReordering.reorder(batch)
        #expect(Self.tags(outcome.envelopes) == [0, 2, 1])
        #expect(outcome.doomed == 1)
    }

    @Test func longerCycleLosesOneTransaction() throws {
        // 0 reads a writes b, 1 reads b writes c, 2 reads c writes a: 0 → 2 → 1 → 0.
        let batch = [
            try Self.transaction(0, reads: ["a"], writes: ["b"]), try Self.transaction(1, reads: ["b"], writes: ["c"]),
            try Self.transaction(2, reads: ["c"], writes: ["a"]),
        ]
        let outcome = DependencyReordering.reorder(batch)
        #expect(outcome.doomed == 1)
        // 0 and 1 are kept (lowest indexes at equal degree); 1 writes c, which 2 read; 0 reads what nobody kept writes.
        #expect(Self.tags(outcome.envelopes) == [1, 0, 2])
    }

    @Test func aTransactionInManyConflictsGivesWayToSeveral() throws {
        // Transfers 0:(x,y), 1:(x,z), 2:(y,w) and a read of x: in arrival order only 0 is valid;
        // reordered, 1, 2 and the read are.
        let batch = [try Self.update(0, "x", "y"), try Self.update(1, "x", "z"), try Self.update(2, "y", "w"), try Self.transaction(3, reads: ["x"])]
        let outcome = DependencyReordering.reorder(batch)
        #expect(Self.tags(outcome.envelopes) == [2, 3, 1, 0])
        #expect(outcome.doomed == 1)
    }

    @Test func rangeQueryReadersGoBeforeWritersInTheirRange() throws {
        let batch = [try Self.transaction(0, writes: ["m"]), try Self.transaction(1, writes: ["z"]), try Self.transaction(2, writes: ["q"], ranges: [("k", "n")])]
        #expect(Self.tags(DependencyReordering.reorder(batch).envelopes) == [1, 2, 0])
    }

    @Test func resultIsDeterministic() throws {
        var random = SeededGenerator(seed: 42)
        let batch = try (0..<200).map { tag in
            try Self.update(UInt8(tag % 256), "k\(Int.random(in: 0..<20, using: &random))", "k\(Int.random(in: 20..<40, using: &random))")
        }
        let first = DependencyReordering.reorder(batch)
        let second = DependencyReordering.reorder(batch)
        #expect(first == second)
        #expect(Set(first.envelopes) == Set(batch) && first.envelopes.count == batch.count)
        #expect(first.doomed > 0)
    }

    @Test func nonEndorserEnvelopesStayInPlaceAndSplitTheBatch() throws {
        var config = Common_Envelope()
        var header = Common_ChannelHeader()
        header.type = Int32(Common_HeaderType.config.rawValue)
        var payload = Common_Payload()
        payload.header.channelHeader = try header.serializedData()
        config.payload = try payload.serializedData()
        let configBytes = try config.serializedData()
        let garbage = Data([7, 7, 7])
        // 1 reads what 0 writes, so it moves before 0. 5 reads what 3 writes, but the undecodable
        // envelope between them is a barrier: nothing moves across it, and it keeps its index.
        let batch = [
            try Self.transaction(0, writes: ["a"]), try Self.transaction(1, reads: ["a"]), configBytes,
            try Self.transaction(3, writes: ["c"]), garbage, try Self.transaction(5, reads: ["c"]),
        ]
        let outcome = DependencyReordering.reorder(batch)
        #expect(outcome.envelopes[2] == configBytes && outcome.envelopes[4] == garbage)
        #expect(Self.tags(outcome.envelopes) == [1, 0, 100 + Int(configBytes.first!), 3, 107, 5])
    }
}

/// SplitMix64, for reproducible random batches.
struct SeededGenerator: RandomNumberGenerator {
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
