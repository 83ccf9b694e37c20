import LedgerCore
import LedgerWire

/// The state changes a committed block makes: the writes, deletes and metadata writes of its
/// VALID endorser transactions (per its TRANSACTIONS_FILTER), versioned (block, transaction
/// index), in block order. Used both to commit and to replay blocks after a restart, so the two
/// can never disagree.
package enum BlockStateUpdates {
    package static func derive(from block: Common_Block) throws(StorageError) -> StateUpdateBatch {
        let number = block.header.number
        guard let codes = block.transactionValidationCodes else {
            throw StorageError(.invalidArgument, "block \(number) has no TRANSACTIONS_FILTER; only validated blocks can be committed")
        }
        var batch = StateUpdateBatch()
        for (position, envelope) in block.data.data.enumerated() where codes[position] == .valid {
            guard let transaction = try? TransactionEnvelope(serialized: envelope),
                transaction.headerType == .endorserTransaction
            else { continue }
            let endorsed: EndorserTransaction
            do {
                endorsed = try EndorserTransaction(payloadData: transaction.payload.data)
            } catch {
                throw StorageError(.corruption, "block \(number) transaction \(position) is marked VALID but does not decode: \(error.reason)")
            }
            let version = StateVersion(blockNumber: number, transactionNumber: UInt32(position))
            for (namespace, readWriteSet) in endorsed.readWriteSets {
                for write in readWriteSet.writes {
                    if write.isDelete {
                        batch.delete(namespace: namespace, key: write.key, version: version)
                    } else {
                        batch.put(namespace: namespace, key: write.key, value: Array(write.value), version: version)
                    }
                }
                for metadataWrite in readWriteSet.metadataWrites {
                    let entries = Dictionary(metadataWrite.entries.map { ($0.name, Array($0.value)) }, uniquingKeysWith: { _, last in last })
                    batch.putMetadata(namespace: namespace, key: metadataWrite.key, metadata: entries, version: version)
                }
            }
        }
        return batch
    }
}
