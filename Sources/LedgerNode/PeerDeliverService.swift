import Foundation
import GRPCCore
import Identity
import LedgerCore
import LedgerWire
import Orderer
import SwiftProtobuf
import WorldState

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
    func stream(_ seek: DeliverSeek, _ send: (Common_Block) async throws -> Void) async throws -> Common_Status {
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
}

/// One committed transaction as clients see it in a filtered block or an event stream.
struct CommittedTransaction {
    let transactionID: String
    let type: Common_HeaderType
    let code: Protos_TxValidationCode
    let event: Protos_ChaincodeEvent?

    /// The transactions of a committed block (with their TRANSACTIONS_FILTER codes).
    static func all(in block: Common_Block) -> [CommittedTransaction] {
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

/// Fabric's peer `Deliver` service: committed blocks (with their validation codes) to the
/// channel's block readers, or filtered blocks (txid, type, code, chaincode event without its
/// payload) to any of its readers.
struct PeerDeliverService: Protos_Deliver.SimpleServiceProtocol {
    /// The channels as of the call (the peer may join more).
    let channels: @Sendable () -> [String: ChannelBlocks]

    func deliver(request: RPCAsyncSequence<Common_Envelope, any Error>, response: RPCWriter<Protos_DeliverResponse>, context: ServerContext) async throws {
        for try await envelope in request {
            try await answer(envelope, filtered: false, response)
        }
    }

    func deliverFiltered(request: RPCAsyncSequence<Common_Envelope, any Error>, response: RPCWriter<Protos_DeliverResponse>, context: ServerContext) async throws {
        for try await envelope in request {
            try await answer(envelope, filtered: true, response)
        }
    }

    private func answer(_ envelope: Common_Envelope, filtered: Bool, _ response: RPCWriter<Protos_DeliverResponse>) async throws {
        var final = Protos_DeliverResponse()
        final.status = try await serve(envelope, filtered: filtered, response)
        try await response.write(final)
    }

    private func serve(_ envelope: Common_Envelope, filtered: Bool, _ response: RPCWriter<Protos_DeliverResponse>) async throws -> Common_Status {
        guard let channelID = DeliverSeek.channel(of: envelope) else { return .badRequest }
        guard let channel = channels()[channelID] else { return .notFound }
        let seek: DeliverSeek
        let readers = filtered ? channel.readers : channel.blockReaders
        switch DeliverSeek.resolve(envelope, membership: channel.membership, readers: readers, height: channel.ledger.height, now: Date()) {
        case .success(let resolved): seek = resolved
        case .failure(let refusal): return refusal.status
        }
        return try await channel.stream(seek) { block in
            var message = Protos_DeliverResponse()
            if filtered {
                message.filteredBlock = Self.filtered(block, channel: channelID)
            } else {
                message.block = block
            }
            try await response.write(message)
        }
    }

    static func filtered(_ block: Common_Block, channel: String) -> Protos_FilteredBlock {
        var filtered = Protos_FilteredBlock()
        filtered.channelID = channel
        filtered.number = block.header.number
        filtered.filteredTransactions = CommittedTransaction.all(in: block).map { transaction in
            var entry = Protos_FilteredTransaction()
            entry.txid = transaction.transactionID
            entry.type = transaction.type
            entry.txValidationCode = transaction.code
            if var event = transaction.event {
                event.payload = Data()
                var action = Protos_FilteredChaincodeAction()
                action.chaincodeEvent = event
                var actions = Protos_FilteredTransactionActions()
                actions.chaincodeActions = [action]
                entry.transactionActions = actions
            }
            return entry
        }
        return filtered
    }
}
