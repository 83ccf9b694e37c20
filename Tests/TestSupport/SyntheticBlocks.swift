import Foundation
import LedgerCore
import LedgerWire

/// Builds chained, validated blocks of endorser transactions with chosen read/write sets, for
/// storage and validation tests.
package struct SyntheticBlocks {
    package private(set) var height: UInt64 = 0
    package private(set) var lastHeaderHash: [UInt8] = []
    private var nonceCounter: UInt64 = 0
    package let channelID: String

    package init(channelID: String = "healthchannel") { self.channelID = channelID }

    /// One transaction: writes (nil value = delete) and metadata writes in one namespace.
    package struct Transaction {
        package var namespace = "cc"
        package var writes: [(key: String, value: [UInt8]?)] = []
        package var metadata: [(key: String, entries: [String: [UInt8]])] = []
        package var reads: [(key: String, version: (UInt64, UInt64)?)] = []
        package var code: Protos_TxValidationCode = .valid

        package init(namespace: String = "cc", writes: [(key: String, value: [UInt8]?)] = [], code: Protos_TxValidationCode = .valid) {
            self.namespace = namespace
            self.writes = writes
            self.code = code
        }
    }

    package mutating func next(_ transactions: [Transaction]) throws -> Common_Block {
        var envelopes: [Data] = []
        for transaction in transactions {
            nonceCounter += 1
            var builder = EndorserTransactionBuilder(
                channelID: channelID, chaincodeName: transaction.namespace, creator: Data("creator".utf8),
                nonce: Data(withUnsafeBytes(of: nonceCounter.bigEndian) { Array($0) }), timestamp: Date(timeIntervalSince1970: 1_800_000_000))
            var set = Kvrwset_KVRWSet()
            set.reads = transaction.reads.map { read in
                var kvRead = Kvrwset_KVRead()
                kvRead.key = read.key
                if let version = read.version {
                    kvRead.version.blockNum = version.0
                    kvRead.version.txNum = version.1
                }
                return kvRead
            }
            set.writes = transaction.writes.map { write in
                var kvWrite = Kvrwset_KVWrite()
                kvWrite.key = write.key
                if let value = write.value { kvWrite.value = Data(value) } else { kvWrite.isDelete = true }
                return kvWrite
            }
            set.metadataWrites = transaction.metadata.map { write in
                var metadataWrite = Kvrwset_KVMetadataWrite()
                metadataWrite.key = write.key
                metadataWrite.entries = write.entries.sorted { $0.key < $1.key }.map { name, value in
                    var entry = Kvrwset_KVMetadataEntry()
                    entry.name = name
                    entry.value = Data(value)
                    return entry
                }
                return metadataWrite
            }
            builder.readWriteSets = [(transaction.namespace, set)]
            envelopes.append(try builder.envelope().serializedData())
        }
        var block = Common_Block(number: height, previousHash: lastHeaderHash, envelopes: envelopes)
        block.setValidationCodes(transactions.map(\.code))
        height += 1
        lastHeaderHash = block.header.hash
        return block
    }
}
