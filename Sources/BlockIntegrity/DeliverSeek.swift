import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf

/// A checked Deliver request: a signed DELIVER_SEEK_INFO envelope from a reader of the channel,
/// resolved against the channel's height into the block numbers to send.
package struct DeliverSeek: Sendable {
    package let channelID: String
    package let start: UInt64
    package let stop: UInt64
    /// Wait for blocks not cut yet (BLOCK_UNTIL_READY) or answer NOT_FOUND (FAIL_IF_NOT_READY).
    package let waitsForBlocks: Bool
    package let requester: ValidatedIdentity

    package init(channelID: String, start: UInt64, stop: UInt64, waitsForBlocks: Bool, requester: ValidatedIdentity) {
        self.channelID = channelID
        self.start = start
        self.stop = stop
        self.waitsForBlocks = waitsForBlocks
        self.requester = requester
    }

    /// The channel a seek envelope names, or nil when it is not a seek envelope.
    package static func channel(of envelope: Common_Envelope) -> String? {
        guard let transaction = try? TransactionEnvelope(envelope: envelope), transaction.headerType == .deliverSeekInfo else { return nil }
        return transaction.channelHeader.channelID
    }

    /// Checks the envelope (structure, signature, the `readers` policy) and resolves its positions
    /// with `height` (the channel's block count). The failure is the Deliver status to answer.
    package static func resolve(
        _ envelope: Common_Envelope, membership: MembershipRegistry, readers: EndorsementPolicy, height: UInt64, now: Date
    ) -> Result<DeliverSeek, DeliverRefusal> {
        guard let transaction = try? TransactionEnvelope(envelope: envelope), transaction.headerType == .deliverSeekInfo,
            let seek = try? Orderer_SeekInfo(serializedBytes: transaction.payload.data)
        else { return .failure(DeliverRefusal(status: .badRequest, reason: "not a signed DELIVER_SEEK_INFO envelope")) }
        guard let requester = try? membership.verify(
            signature: envelope.signature, over: envelope.payload, by: transaction.signatureHeader.creator, at: now),
            readers.isSatisfied(by: [requester.policySigner])
        else { return .failure(DeliverRefusal(status: .forbidden, reason: "the requester is not a reader of the channel")) }
        let newest = height == 0 ? 0 : height - 1
        let start: UInt64
        switch seek.start.type {
        case .oldest, .none: start = 0
        case .newest: start = newest
        case .specified(let position): start = position.number
        case .nextCommit: start = height
        }
        let stop: UInt64
        switch seek.stop.type {
        case .specified(let position): stop = position.number
        case .newest: stop = newest
        case .oldest: stop = 0
        case .nextCommit, .none: stop = UInt64.max
        }
        guard start <= stop else { return .failure(DeliverRefusal(status: .badRequest, reason: "start \(start) is after stop \(stop)")) }
        return .success(DeliverSeek(
            channelID: transaction.channelHeader.channelID, start: start, stop: stop, waitsForBlocks: seek.behavior == .blockUntilReady,
            requester: requester))
    }
}

/// Why a Deliver request was refused: the status to answer and a reason for the log.
package struct DeliverRefusal: Error, Sendable {
    package let status: Common_Status
    package let reason: String
}
