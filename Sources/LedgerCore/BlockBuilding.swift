import Foundation
import LedgerWire
import SwiftProtobuf

extension Common_Block {
    /// Number of metadata slots in a block (SIGNATURES, LAST_CONFIG, TRANSACTIONS_FILTER, ORDERER,
    /// COMMIT_HASH), all present and empty until filled, as Fabric lays them out.
    package static let metadataSlotCount = 5

    /// A new block that chains onto `previousHash`: header number, previous hash and the data hash
    /// of `envelopes`; every metadata slot present and empty.
    package init(number: UInt64, previousHash: some Sequence<UInt8>, envelopes: [Data]) {
        precondition(envelopes.count <= Limits.blockTransactionCountMax, "a block may carry at most \(Limits.blockTransactionCountMax) transactions")
        self.init()
        data.data = envelopes
        header.number = number
        header.previousHash = Data(previousHash)
        header.dataHash = Data(data.hash)
        metadata.metadata = Array(repeating: Data(), count: Self.metadataSlotCount)
    }
}

extension Common_Block {
    /// The orderer's clock when it cut this block: the timestamp in the consenter metadata of the
    /// SIGNATURES metadata's OrdererBlockMetadata, which the orderer signature covers (so it is
    /// trusted once `BlockVerifier` accepted the block). Nil for blocks that carry none (genesis
    /// blocks, blocks of Fabric orderers or of Medrex orderers before ordering time existed).
    package var orderingTime: Date? {
        let slot = Common_BlockMetadataIndex.signatures.rawValue
        guard metadata.metadata.indices.contains(slot),
            let signatures = try? Common_Metadata(serializedBytes: metadata.metadata[slot]),
            let ordererMetadata = try? Common_OrdererBlockMetadata(serializedBytes: signatures.value),
            let timestamp = try? Google_Protobuf_Timestamp(serializedBytes: ordererMetadata.consenterMetadata),
            // Fabric orderers put their consensus metadata here (Raft's or BFT's), which protobuf
            // decodes as a Timestamp too: only the exact encoding of a time after 1970 counts.
            timestamp.seconds > 0, (0..<1_000_000_000).contains(timestamp.nanos), timestamp.unknownFields.data.isEmpty,
            (try? timestamp.serializedData()) == ordererMetadata.consenterMetadata
        else { return nil }
        return timestamp.instant
    }
}

extension Common_Block {
    /// The number of the last config block as of this block (this block's own number for a
    /// config block), from the SIGNATURES metadata's OrdererBlockMetadata; nil when the block
    /// carries none (a genesis block). Trust it once `BlockVerifier` accepted the block.
    package var lastConfigIndex: UInt64? {
        let slot = Common_BlockMetadataIndex.signatures.rawValue
        guard metadata.metadata.indices.contains(slot), !metadata.metadata[slot].isEmpty,
            let signatures = try? Common_Metadata(serializedBytes: metadata.metadata[slot]),
            let ordererMetadata = try? Common_OrdererBlockMetadata(serializedBytes: signatures.value)
        else { return nil }
        return ordererMetadata.lastConfig.index
    }

    /// Whether the block holds a configuration transaction: Fabric puts a CONFIG envelope in a
    /// block of its own (a block mixing one with others is refused at validation).
    package var holdsConfigTransaction: Bool {
        data.data.contains { bytes in (try? TransactionEnvelope(serialized: bytes))?.headerType == .config }
    }
}

extension Google_Protobuf_Timestamp {
    /// The timestamp as a `Date`, for any seconds and nanos a message may carry. SwiftProtobuf's
    /// `date` subtracts in `Int64` and traps on seconds near `Int64.min`; this converts to
    /// floating point first and never traps. Use it for every timestamp that came from outside.
    package var instant: Date { Date(timeIntervalSince1970: Double(seconds) + Double(nanos) / 1_000_000_000) }
}
