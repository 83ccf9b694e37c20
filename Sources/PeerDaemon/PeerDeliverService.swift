import BlockIntegrity
import Foundation
import GRPCCore
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import WorldState
import Committer
import GatewayService
import NodeClients
import PhiService

/// Fabric's peer `Deliver` service: committed blocks (with their validation codes) to the
/// channel's block readers, or filtered blocks (txid, type, code, chaincode event without its
/// payload) to any of its readers.
package struct PeerDeliverService: Protos_Deliver.SimpleServiceProtocol {
    /// The channels as of the call (the peer may join more).
    package let channels: @Sendable () -> [String: ChannelBlocks]

    package func deliver(request: RPCAsyncSequence<Common_Envelope, any Error>, response: RPCWriter<Protos_DeliverResponse>, context: ServerContext) async throws {
        for try await envelope in request {
            try await answer(envelope, filtered: false, response)
        }
    }

    package func deliverFiltered(request: RPCAsyncSequence<Common_Envelope, any Error>, response: RPCWriter<Protos_DeliverResponse>, context: ServerContext) async throws {
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

    package static func filtered(_ block: Common_Block, channel: String) -> Protos_FilteredBlock {
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
