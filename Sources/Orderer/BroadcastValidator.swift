import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf

/// The answer to one broadcast envelope: Fabric's status and a reason.
package struct BroadcastOutcome: Sendable, Hashable {
    package let status: Common_Status
    package let info: String

    package init(status: Common_Status, info: String) {
        self.status = status
        self.info = info
    }

    package static let success = BroadcastOutcome(status: .success, info: "")
}

/// The checks the orderer makes on a broadcast envelope before ordering it: size, structure,
/// channel, header type, creator signature and the channel's Writers policy. It never looks at
/// an endorser transaction's content: endorsement is the peers' concern. (A CONFIG_UPDATE's
/// content is checked by `BlockBatcher`, against the configuration it would follow.)
package struct BroadcastValidator: Sendable {
    package let settings: ChannelOrderingSettings

    package init(settings: ChannelOrderingSettings) { self.settings = settings }

    /// nil when the envelope may be ordered; otherwise the refusal. Uses `now` to check the
    /// creator's certificate.
    package func refusal(of envelope: Common_Envelope, serializedSize: Int, now: Date) -> BroadcastOutcome? {
        guard serializedSize <= settings.batchLimits.absoluteMaxBytes else {
            return BroadcastOutcome(status: .requestEntityTooLarge, info: "envelope of \(serializedSize) bytes exceeds the channel's absolute maximum of \(settings.batchLimits.absoluteMaxBytes) bytes")
        }
        let transaction: TransactionEnvelope
        do {
            transaction = try TransactionEnvelope(envelope: envelope)
        } catch {
            return BroadcastOutcome(status: .badRequest, info: "malformed envelope: \(error.reason)")
        }
        guard transaction.channelHeader.channelID == settings.channelID else {
            return BroadcastOutcome(status: .notFound, info: "channel '\(transaction.channelHeader.channelID)' is not served here")
        }
        guard transaction.headerType == .endorserTransaction || transaction.headerType == .configUpdate else {
            return BroadcastOutcome(status: .badRequest, info: "header type \(transaction.channelHeader.type) is not accepted (only ENDORSER_TRANSACTION and CONFIG_UPDATE)")
        }
        let creator: ValidatedIdentity
        do {
            creator = try settings.membership.verify(
                signature: envelope.signature, over: envelope.payload, by: transaction.signatureHeader.creator, at: now)
        } catch {
            return BroadcastOutcome(status: .forbidden, info: "creator refused: \(error.reason)")
        }
        guard settings.writers.isSatisfied(by: [creator.policySigner]) else {
            return BroadcastOutcome(status: .forbidden, info: "creator of '\(creator.mspID)' does not satisfy the channel's Writers policy")
        }
        return nil
    }
}
