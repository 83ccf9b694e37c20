// Fuzz target `envelope`: bytes → TransactionEnvelope(serialized:) → EndorserTransaction(boundTo:)
// (LedgerCore), and the state changes a committed block would derive from it (WorldState).
import Foundation
import LedgerCore
import LedgerWire
import SwiftProtobuf
import WorldState

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    writeSeedsIfAsked {
        var seeds = fabricEnvelopes()
        var spec = SignedTransactionSpec()
        spec.reads = [("a", (0, 0)), ("absent", nil)]
        spec.writes = [("a", [9]), ("gone", nil)]
        spec.metadataWrites = [("order", ["VALIDATION_PARAMETER": Array("'HospitalAMSP.peer'".utf8)])]
        spec.range = ("a", "c", [("a", 0, 0), ("b", 0, 1)])
        seeds.append(("synthetic-endorser-tx", try spec.envelope().serializedData()))
        return seeds
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzData(data, size)
    guard let transaction = try? TransactionEnvelope(serialized: bytes) else { return 0 }
    _ = transaction.headerType
    _ = transaction.expectedTransactionID
    _ = transaction.channelHeader.timestamp.instant
    if let endorsed = try? EndorserTransaction(boundTo: transaction) {
        _ = try? ProposalHash.payloadForTransaction(endorsed.chaincodeProposalPayload)
        for (_, set) in endorsed.readWriteSets {
            for read in set.reads { _ = read.matches(StateVersion(blockNumber: 0, transactionNumber: 0)) }
        }
    } else {
        _ = try? EndorserTransaction(payloadData: transaction.payload.data)
    }
    // What a committer derives from it when a block marks it VALID.
    var block = Common_Block(number: 1, previousHash: [UInt8](repeating: 0, count: 32), envelopes: [bytes])
    block.setValidationCodes([.valid])
    _ = block.orderingTime
    _ = try? BlockStateUpdates.derive(from: block)
    return 0
}
