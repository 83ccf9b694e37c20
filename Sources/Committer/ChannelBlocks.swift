import BlockIntegrity
import Foundation
import Identity
import LedgerCore
import LedgerWire
import WorldState
import NodeClients

/// What a peer serves to readers of one channel: its committed blocks, who may read them, and a
/// signal when more commit.
package struct ChannelBlocks: Sendable {
    package let ledger: Ledger
    package let signal: BlockHeightSignal
    package let membership: MembershipRegistry
    /// Fabric's channel Readers: any member of the channel's organizations (filtered blocks,
    /// chaincode events, their transactions' status).
    package let readers: EndorsementPolicy
    /// Who may receive full blocks (`ChannelConfig.blockReadersPolicy`).
    package let blockReaders: EndorsementPolicy

    /// Blocks `seek` asks for, handed to `send` in order, waiting for uncommitted ones when the seek
    /// says so. The final status: SUCCESS, NOT_FOUND (not committed, no wait) or
    /// SERVICE_UNAVAILABLE (the peer is stopping).
    package func stream(_ seek: DeliverSeek, _ send: (Common_Block) async throws -> Void) async throws -> Common_Status {
        var number = seek.start
        while number <= seek.stop {
            if number >= ledger.height {
                // Block 2^64-1 would need a height past UInt64.max: it can never be committed.
                let (height, overflow) = number.addingReportingOverflow(1)
                guard seek.waitsForBlocks, !overflow else { return .notFound }
                guard await signal.wait(forHeight: height) else { return .serviceUnavailable }
            }
            guard let block = try ledger.blockStore.block(number: number) else { return .notFound }
            try await send(block)
            if number == UInt64.max { break }
            number += 1
        }
        return .success
    }

    package init(ledger: Ledger, signal: BlockHeightSignal, membership: MembershipRegistry, readers: EndorsementPolicy, blockReaders: EndorsementPolicy) {
        self.ledger = ledger
        self.signal = signal
        self.membership = membership
        self.readers = readers
        self.blockReaders = blockReaders
    }
}

/// One committed transaction as clients see it in a filtered block or an event stream.
package struct CommittedTransaction {
    package let transactionID: String
    package let type: Common_HeaderType
    package let code: Protos_TxValidationCode
    package let event: Protos_ChaincodeEvent?

    /// The transactions of a committed block (with their TRANSACTIONS_FILTER codes).
    package static func all(in block: Common_Block) -> [CommittedTransaction] {
        let codes = block.transactionValidationCodes ?? Array(repeating: .notValidated, count: block.data.data.count)
        return zip(block.data.data, codes).map { bytes, code in
            guard let transaction = try? TransactionEnvelope(serialized: bytes) else {
                return CommittedTransaction(transactionID: "", type: .message, code: code, event: nil)
            }
            var event: Protos_ChaincodeEvent?
            if transaction.headerType == .endorserTransaction, let endorsed = try? EndorserTransaction(payloadData: transaction.payload.data),
                !endorsed.chaincodeAction.events.isEmpty
            {
                event = try? Protos_ChaincodeEvent(serializedBytes: endorsed.chaincodeAction.events)
            }
            return CommittedTransaction(transactionID: transaction.channelHeader.txID, type: transaction.headerType, code: code, event: event)
        }
    }
}
