import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf

/// A signed proposal that passed every check before simulation: decoded headers, the validated
/// creator, and the chaincode invocation.
package struct CheckedProposal: Sendable {
    package let signedProposal: Protos_SignedProposal
    package let proposal: Protos_Proposal
    package let channelHeader: Common_ChannelHeader
    package let signatureHeader: Common_SignatureHeader
    package let creator: ValidatedIdentity
    package let chaincodeName: String
    /// The invocation's arguments: the function name first, as Fabric passes them.
    package let arguments: [Data]
    /// Transient data: visible to the chaincode, never written to the ledger.
    package let transientMap: [String: Data]

    package var transactionID: String { channelHeader.txID }
}

/// The checks an endorser makes on a signed proposal before running any chaincode: structure,
/// header type and epoch, channel, creator identity (by the channel's MSPs) and signature, the
/// channel's Writers, txid binding and timestamp skew.
package struct ProposalChecker: Sendable {
    package let membership: MembershipRegistry
    package let channels: Set<String>
    /// Largest accepted difference between the proposal's timestamp and the endorser's clock.
    package let timestampSkew: TimeInterval
    /// Who may propose on the channel (Fabric's `/Channel/Application/Writers`); nil: any
    /// identity `membership` validates.
    package let writers: EndorsementPolicy?

    package init(
        membership: MembershipRegistry, channels: Set<String>, timestampSkew: TimeInterval = Limits.proposalTimestampSkewDefault,
        writers: EndorsementPolicy? = nil
    ) {
        self.membership = membership
        self.channels = channels
        self.timestampSkew = timestampSkew
        self.writers = writers
    }

    /// The channel a signed proposal names, or nil when its headers do not decode (the check then
    /// refuses it). Lets a caller choose the channel's membership before checking.
    package static func channelID(of signed: Protos_SignedProposal) -> String? {
        guard let proposal = try? Protos_Proposal(serializedBytes: signed.proposalBytes),
            let header = try? Common_Header(serializedBytes: proposal.header),
            let channelHeader = try? Common_ChannelHeader(serializedBytes: header.channelHeader)
        else { return nil }
        return channelHeader.channelID
    }

    /// Checks `signed` at the endorser's time `now`. Throws `EndorserError` for every refusal.
    package func check(_ signed: Protos_SignedProposal, now: Date) throws(EndorserError) -> CheckedProposal {
        let proposal: Protos_Proposal = try decode(signed.proposalBytes, "proposal")
        let header: Common_Header = try decode(proposal.header, "proposal header")
        let channelHeader: Common_ChannelHeader = try decode(header.channelHeader, "channel header")
        let signatureHeader: Common_SignatureHeader = try decode(header.signatureHeader, "signature header")
        guard channelHeader.type == Int32(Common_HeaderType.endorserTransaction.rawValue) else {
            throw EndorserError(.malformedProposal, "channel header type \(channelHeader.type) is not ENDORSER_TRANSACTION")
        }
        guard channelHeader.epoch == 0 else {
            throw EndorserError(.malformedProposal, "channel header epoch \(channelHeader.epoch) is not 0")
        }
        guard channels.contains(channelHeader.channelID) else {
            throw EndorserError(.unknownChannel, "channel '\(channelHeader.channelID)' is not joined by this peer")
        }
        guard !signatureHeader.nonce.isEmpty else {
            throw EndorserError(.malformedProposal, "signature header has an empty nonce")
        }
        let creator: ValidatedIdentity
        do {
            creator = try membership.verify(signature: signed.signature, over: signed.proposalBytes, by: signatureHeader.creator, at: now)
        } catch {
            throw EndorserError(.accessDenied, "creator refused: \(error.reason)")
        }
        if let writers, !writers.isSatisfied(by: [creator.policySigner]) {
            throw EndorserError(.accessDenied, "creator is not a writer of channel '\(channelHeader.channelID)'")
        }
        let expectedID = TransactionID.make(nonce: signatureHeader.nonce, creator: signatureHeader.creator)
        guard channelHeader.txID == expectedID else {
            throw EndorserError(.badTransactionID, "txid '\(channelHeader.txID)' is not SHA-256 of the nonce and creator")
        }
        let proposedAt = channelHeader.timestamp.instant
        guard abs(proposedAt.timeIntervalSince(now)) <= timestampSkew else {
            throw EndorserError(.timestampOutOfRange, "proposal timestamp \(proposedAt) is more than \(Int(timestampSkew)) s from the endorser's clock")
        }
        let headerExtension: Protos_ChaincodeHeaderExtension = try decode(channelHeader.extension, "chaincode header extension")
        guard !headerExtension.chaincodeID.name.isEmpty else {
            throw EndorserError(.malformedProposal, "chaincode header extension names no chaincode")
        }
        let payload: Protos_ChaincodeProposalPayload = try decode(proposal.payload, "chaincode proposal payload")
        let invocation: Protos_ChaincodeInvocationSpec = try decode(payload.input, "chaincode invocation spec")
        return CheckedProposal(
            signedProposal: signed, proposal: proposal, channelHeader: channelHeader, signatureHeader: signatureHeader,
            creator: creator, chaincodeName: headerExtension.chaincodeID.name,
            arguments: invocation.chaincodeSpec.input.args, transientMap: payload.transientMap)
    }

    private func decode<Message: SwiftProtobuf.Message>(_ bytes: Data, _ what: String) throws(EndorserError) -> Message {
        do {
            return try Message(serializedBytes: bytes)
        } catch {
            throw EndorserError(.malformedProposal, "\(what) does not decode")
        }
    }
}
