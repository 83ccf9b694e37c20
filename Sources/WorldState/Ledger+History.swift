import LedgerCore
import LedgerWire

/// One entry of a key's history: the transaction that wrote or deleted it, and the value written.
package struct HistoryEntry: Hashable, Sendable {
    package let version: StateVersion
    package let transactionID: String
    /// nil for a delete.
    package let value: [UInt8]?

    package var isDelete: Bool { value == nil }
}

extension Ledger {
    /// Every committed write and delete of `key`, newest first, with the values read back from
    /// the blocks (the history index holds only versions).
    package func history(namespace: String, key: String) throws(StorageError) -> [HistoryEntry] {
        var entries: [HistoryEntry] = []
        for version in try state.history(namespace: namespace, key: key) {
            guard let block = try blockStore.block(number: version.blockNumber),
                Int(version.transactionNumber) < block.data.data.count,
                let transaction = try? TransactionEnvelope(serialized: block.data.data[Int(version.transactionNumber)]),
                let endorsed = try? EndorserTransaction(payloadData: transaction.payload.data)
            else {
                throw StorageError(.corruption, "history of a key points at \(version), which holds no such transaction")
            }
            let writes = endorsed.readWriteSets.filter { $0.namespace == namespace }.flatMap { $0.readWriteSet.writes }
            guard let write = writes.last(where: { $0.key == key }) else {
                throw StorageError(.corruption, "history of a key points at \(version), which does not write it")
            }
            entries.append(HistoryEntry(version: version, transactionID: transaction.channelHeader.txID, value: write.isDelete ? nil : Array(write.value)))
        }
        return entries
    }
}
