// Fuzz target `rwset`: bytes → Rwset_TxReadWriteSet / Kvrwset_KVRWSet decoding, the read helpers
// (`StateVersion.init?(_:)`, `Kvrwset_KVRead.matches`), and the decoded writes applied to an
// in-memory world state and read back (WorldState), as a committer would.
import Chaincode
import Foundation
import LedgerCore
import LedgerWire
import SwiftProtobuf
import WorldState

/// Committed state every input starts from: block 0 wrote "a", "b", "order" in namespace "cc".
private func seededState() -> InMemoryStateDatabase {
    let state = InMemoryStateDatabase()
    var seed = StateUpdateBatch()
    seed.put(namespace: "cc", key: "a", value: [1], version: StateVersion(blockNumber: 0, transactionNumber: 0))
    seed.put(namespace: "cc", key: "b", value: [2], version: StateVersion(blockNumber: 0, transactionNumber: 1))
    seed.put(namespace: "cc", key: "order", value: [3], version: StateVersion(blockNumber: 0, transactionNumber: 2))
    seed.putMetadata(
        namespace: "cc", key: "order", metadata: [StateMetadataName.validationParameter: Array("'HospitalAMSP.peer'".utf8)],
        version: StateVersion(blockNumber: 0, transactionNumber: 2))
    try? state.apply(seed, blockNumber: 0)
    return state
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    writeSeedsIfAsked {
        var seeds: [(name: String, bytes: Data)] = []
        // The read/write sets of Fabric's recorded transactions.
        for (name, envelope) in fabricEnvelopes() {
            guard let transaction = try? TransactionEnvelope(serialized: envelope),
                let endorsed = try? EndorserTransaction(payloadData: transaction.payload.data)
            else { continue }
            seeds.append((name + "-rwset", endorsed.chaincodeAction.results))
        }
        var set = Kvrwset_KVRWSet()
        for (key, version) in [("a", (UInt64(0), UInt64(0))), ("b", (0, 7)), ("x", (UInt64.max, UInt64(UInt32.max) + 1))] {
            var read = Kvrwset_KVRead()
            read.key = key
            read.version.blockNum = version.0
            read.version.txNum = version.1
            set.reads.append(read)
        }
        var absent = Kvrwset_KVRead()
        absent.key = "new"
        set.reads.append(absent)
        var write = Kvrwset_KVWrite()
        write.key = "a"
        write.value = Data([7])
        var delete = Kvrwset_KVWrite()
        delete.key = "b"
        delete.isDelete = true
        set.writes = [write, delete]
        var metadata = Kvrwset_KVMetadataWrite()
        metadata.key = "order"
        var entry = Kvrwset_KVMetadataEntry()
        entry.name = StateMetadataName.validationParameter
        entry.value = Data("'HospitalBMSP.peer'".utf8)
        metadata.entries = [entry]
        set.metadataWrites = [metadata]
        var range = Kvrwset_RangeQueryInfo()
        range.startKey = "a"
        range.endKey = "c"
        range.itrExhausted = true
        range.rawReads.kvReads = Array(set.reads.prefix(2))
        set.rangeQueriesInfo = [range]
        var namespaceSet = Rwset_NsReadWriteSet()
        namespaceSet.namespace = "cc"
        namespaceSet.rwset = try set.serializedData()
        var other = namespaceSet
        other.namespace = "_lifecycle"
        var whole = Rwset_TxReadWriteSet()
        whole.dataModel = .kv
        whole.nsRwset = [namespaceSet, other]
        seeds.append(("synthetic-txrwset", try whole.serializedData()))
        seeds.append(("synthetic-kvrwset", try set.serializedData()))
        return seeds
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReadWriteSet(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzData(data, size)
    var sets: [(String, Kvrwset_KVRWSet)] = []
    if let whole = try? Rwset_TxReadWriteSet(serializedBytes: bytes) {
        for namespaceSet in whole.nsRwset.prefix(16) {
            if let set = try? Kvrwset_KVRWSet(serializedBytes: namespaceSet.rwset) { sets.append((namespaceSet.namespace, set)) }
        }
    }
    if let set = try? Kvrwset_KVRWSet(serializedBytes: bytes) { sets.append(("cc", set)) }
    guard !sets.isEmpty else { return 0 }

    let state = seededState()
    guard let before = try? state.makeReader() else { return 0 }
    var batch = StateUpdateBatch()
    for (index, (namespace, set)) in sets.enumerated() {
        let version = StateVersion(blockNumber: 1, transactionNumber: UInt32(index))
        for read in set.reads.prefix(256) {
            _ = StateVersion(read.version)
            let current = (try? before.get(namespace: namespace, key: read.key))??.version
            _ = read.matches(current)
            _ = read.matches(nil)
        }
        for query in set.rangeQueriesInfo.prefix(16) {
            if let page = try? before.range(namespace: namespace, startKey: query.startKey, endKey: query.endKey, pageSize: 64) {
                for (read, entry) in zip(query.rawReads.kvReads, page.entries) where read.key == entry.key { _ = read.matches(entry.value.version) }
            }
            for read in query.rawReads.kvReads.prefix(64) { _ = StateVersion(read.version) }
        }
        for write in set.writes.prefix(256) {
            if write.isDelete {
                batch.delete(namespace: namespace, key: write.key, version: version)
            } else {
                batch.put(namespace: namespace, key: write.key, value: Array(write.value), version: version)
            }
        }
        for metadataWrite in set.metadataWrites.prefix(64) {
            let entries = Dictionary(metadataWrite.entries.map { ($0.name, Array($0.value)) }, uniquingKeysWith: { _, last in last })
            batch.putMetadata(namespace: namespace, key: metadataWrite.key, metadata: entries, version: version)
        }
    }
    guard (try? state.apply(batch, blockNumber: 1)) != nil, let after = try? state.makeReader() else { return 0 }
    for (namespace, set) in sets {
        for write in set.writes.prefix(64) { _ = try? after.get(namespace: namespace, key: write.key) }
        _ = try? after.range(namespace: namespace, startKey: "", endKey: "", pageSize: 16)
        if let first = set.writes.first {
            _ = try? after.partialCompositeKey(namespace: namespace, objectType: first.key, attributes: [], pageSize: 8)
            _ = try? CompositeKey.split(first.key)
            _ = try? state.history(namespace: namespace, key: first.key)
        }
    }
    return 0
}
