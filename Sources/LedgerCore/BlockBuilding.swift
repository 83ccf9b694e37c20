import Foundation
import LedgerWire

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
