import ArgumentParser
import Foundation
import LedgerCore
import LedgerWire
import WorldState

/// `medrex bench state`: commits synthetic blocks to a ledger on disk and reports the rate, next
/// to the raw RocksDB batched-put rate measured in the same run on the same disk.
struct StateBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Commit blocks of read-modify-write transactions to a ledger and report blocks/s and transactions/s."
    )

    @Option(help: "Blocks to commit.") var blocks = 1000
    @Option(help: "Transactions per block.") var transactions = 500
    @Option(help: "Keys the transactions read and write (uniformly).") var keys = 100_000
    @Option(help: "Bytes per written value.") var valueBytes = 100
    @Option(help: "Ledger directory; a temporary one (removed afterwards) when omitted. An existing ledger is continued.")
    var data: String?
    @Flag(help: "Print 'committed N' after every block (used by the crash test).") var printCommits = false
    @Flag(help: "Skip the raw RocksDB baseline.") var noBaseline = false
    @Option(help: "Seed of the key choice.") var seed: UInt64 = 1

    func validate() throws {
        guard blocks > 0, transactions > 0, keys > 1, valueBytes >= 0 else {
            throw ValidationError("blocks, transactions and value bytes must be positive and keys at least 2")
        }
    }

    func run() throws {
        let temporary = data == nil
        let directory = data.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("medrex-bench-\(UUID().uuidString)")
        defer { if temporary { try? FileManager.default.removeItem(at: directory) } }

        let ledger = try Ledger(directory: directory)
        var workload = StateWorkload(
            height: ledger.height, lastHeaderHash: ledger.blockStore.lastHeaderHash, keys: keys, valueBytes: valueBytes,
            seed: seed &+ ledger.height)
        var commitSeconds = 0.0
        var readCount = 0
        for _ in 0..<blocks {
            let block = try workload.nextBlock(transactions: transactions)
            let start = DispatchTime.now()
            // Reads as MVCC validation makes them: each transaction's read keys, from a snapshot.
            let reader = try ledger.state.makeReader()
            _ = try reader.getMany(namespace: StateWorkload.namespace, keys: workload.lastReadKeys)
            readCount += workload.lastReadKeys.count
            try ledger.commit(block)
            commitSeconds += seconds(since: start)
            if printCommits {
                FileHandle.standardOutput.write(Data("committed \(block.header.number)\n".utf8))
            }
        }
        try ledger.close()
        let transactionsTotal = Double(blocks * transactions)
        print("ledger commit: \(blocks) blocks × \(transactions) transactions (2 reads + 2 writes of \(valueBytes)-byte values, \(keys) keys)")
        print(String(format: "  %.1f blocks/s, %.0f transactions/s, %.0f state reads/s (%.2f s committing)",
                     Double(blocks) / commitSeconds, transactionsTotal / commitSeconds, Double(readCount) / commitSeconds, commitSeconds))
        guard !noBaseline else { return }
        let baseline = try RawRocksBaseline.measure(in: directory.deletingLastPathComponent(), valueBytes: valueBytes)
        print(String(format: "raw RocksDB batched puts (same machine, same run): %.0f puts/s (%d batches × %d puts, %d-byte values, no fsync)",
                     baseline.putsPerSecond, baseline.batches, baseline.batchSize, valueBytes))
        print(String(format: "  per transaction the ledger writes 5 RocksDB entries (2 values, 2 history, 1 txid) and reads 4 (2 MVCC, 2 metadata carry-over): put-only limit ≈ %.0f transactions/s",
                     baseline.putsPerSecond / 5))
    }
}

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

/// Synthetic read-modify-write transactions: each reads two keys and writes both.
struct StateWorkload {
    static let namespace = "bench"
    private(set) var height: UInt64
    private(set) var lastHeaderHash: [UInt8]
    private(set) var lastReadKeys: [String] = []
    let keys: Int
    let valueBytes: Int
    private var random: SplitMix64
    private var counter: UInt64 = 0

    init(height: UInt64, lastHeaderHash: [UInt8], keys: Int, valueBytes: Int, seed: UInt64) {
        self.height = height
        self.lastHeaderHash = lastHeaderHash
        self.keys = keys
        self.valueBytes = valueBytes
        random = SplitMix64(seed: seed)
    }

    mutating func nextBlock(transactions: Int) throws -> Common_Block {
        var envelopes: [Data] = []
        envelopes.reserveCapacity(transactions)
        lastReadKeys = []
        let value = Data(repeating: UInt8(truncatingIfNeeded: height), count: valueBytes)
        for _ in 0..<transactions {
            counter += 1
            let first = "account-\(random.next() % UInt64(keys))"
            let second = "account-\(random.next() % UInt64(keys))"
            lastReadKeys += [first, second]
            var set = Kvrwset_KVRWSet()
            set.reads = [first, second].map { key in
                var read = Kvrwset_KVRead()
                read.key = key
                return read
            }
            set.writes = [first, second].map { key in
                var write = Kvrwset_KVWrite()
                write.key = key
                write.value = value
                return write
            }
            var builder = EndorserTransactionBuilder(
                channelID: "bench", chaincodeName: Self.namespace, creator: Data("bench-client".utf8),
                nonce: Data(withUnsafeBytes(of: (height << 20 | counter).bigEndian) { Array($0) }),
                timestamp: Date(timeIntervalSince1970: 1_800_000_000))
            builder.readWriteSets = [(Self.namespace, set)]
            envelopes.append(try builder.envelope().serializedData())
        }
        var block = Common_Block(number: height, previousHash: lastHeaderHash, envelopes: envelopes)
        block.setValidationCodes(Array(repeating: .valid, count: transactions))
        height += 1
        lastHeaderHash = block.header.hash
        return block
    }
}

/// A small deterministic generator (SplitMix64) so that runs are repeatable.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// RocksDB's own batched-put rate on this machine: the ceiling for the state database.
enum RawRocksBaseline {
    struct Result {
        let putsPerSecond: Double
        let batches: Int
        let batchSize: Int
    }

    static func measure(in parent: URL, valueBytes: Int, batches: Int = 1000, batchSize: Int = 1000) throws -> Result {
        let directory = parent.appendingPathComponent("medrex-raw-rocksdb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try RocksDatabase(path: directory.path, columnFamilies: ["raw"])
        let family = database.columnFamily("raw")
        let value = [UInt8](repeating: 7, count: valueBytes)
        var random = SplitMix64(seed: 42)
        let start = DispatchTime.now()
        for _ in 0..<batches {
            let batch = database.makeWriteBatch()
            for _ in 0..<batchSize {
                batch.put(Array("account-\(random.next() % 100_000)".utf8), value, in: family)
            }
            try database.write(batch)
        }
        let elapsed = seconds(since: start)
        try database.close()
        return Result(putsPerSecond: Double(batches * batchSize) / elapsed, batches: batches, batchSize: batchSize)
    }
}
