import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf

/// Why endorsements could not be put together into a transaction.
package enum TransactionAssemblyErrorCode: String, DomainErrorCode {
    case noEndorsements
    case endorserRefused
    case resultsDiffer
    case malformedProposal
    case malformedTransaction
}

package typealias TransactionAssemblyError = DomainError<TransactionAssemblyErrorCode>

/// Puts a proposal and its endorsements together into the transaction a client signs and orders,
/// in Fabric's shape: the proposal's header; one action whose header is the proposal's signature
/// header and whose payload holds the proposal payload without its transient map, the common
/// proposal response payload and every endorsement.
package enum TransactionAssembler {
    /// The serialized `common.Payload` of the transaction. Every response must be a success and
    /// all must carry the same payload (the same read/write set and result).
    package static func payload(proposal signed: Protos_SignedProposal, responses: [Protos_ProposalResponse]) throws(TransactionAssemblyError) -> Data {
        guard let first = responses.first else { throw TransactionAssemblyError(.noEndorsements, "no endorsements to assemble") }
        for response in responses {
            guard response.response.status >= 200, response.response.status < 400 else {
                throw TransactionAssemblyError(.endorserRefused, "an endorser refused the proposal (\(response.response.status)): \(response.response.message)")
            }
            guard response.payload == first.payload else {
                throw TransactionAssemblyError(.resultsDiffer, "endorsers returned different results (read/write sets or responses do not match)")
            }
        }
        do {
            let proposal = try Protos_Proposal(serializedBytes: signed.proposalBytes)
            let header = try Common_Header(serializedBytes: proposal.header)
            var endorsed = Protos_ChaincodeEndorsedAction()
            endorsed.proposalResponsePayload = first.payload
            endorsed.endorsements = responses.map(\.endorsement)
            var actionPayload = Protos_ChaincodeActionPayload()
            actionPayload.chaincodeProposalPayload = try ProposalHash.payloadForTransaction(proposal.payload)
            actionPayload.action = endorsed
            var action = Protos_TransactionAction()
            action.header = header.signatureHeader
            action.payload = try actionPayload.serializedData()
            var transaction = Protos_Transaction()
            transaction.actions = [action]
            var payload = Common_Payload()
            payload.header = header
            payload.data = try transaction.serializedData()
            return try payload.serializedData()
        } catch {
            throw TransactionAssemblyError(.malformedProposal, "the proposal does not decode: \(error)")
        }
    }

    /// Adds `cosigner`'s endorsement to an assembled transaction payload: its signature over the
    /// proposal response payload and its own serialized identity, as a peer endorses. This is a
    /// co-signature (DESIGN §3): a person satisfying an attribute principal of a key-level policy,
    /// e.g. a supervisor co-signing a trainee's order. Sign the envelope after this.
    package static func addCoSignature(to payloadBytes: Data, by cosigner: SigningIdentity) throws(TransactionAssemblyError) -> Data {
        do {
            var payload = try Common_Payload(serializedBytes: payloadBytes)
            var transaction = try Protos_Transaction(serializedBytes: payload.data)
            guard transaction.actions.count == 1 else { throw TransactionAssemblyError(.malformedTransaction, "the transaction has no single action to co-sign") }
            var actionPayload = try Protos_ChaincodeActionPayload(serializedBytes: transaction.actions[0].payload)
            var endorsement = Protos_Endorsement()
            endorsement.endorser = Data(cosigner.serialized)
            endorsement.signature = Data(try cosigner.sign(actionPayload.action.proposalResponsePayload + endorsement.endorser))
            actionPayload.action.endorsements.append(endorsement)
            transaction.actions[0].payload = try actionPayload.serializedData()
            payload.data = try transaction.serializedData()
            return try payload.serializedData()
        } catch let error as TransactionAssemblyError {
            throw error
        } catch {
            throw TransactionAssemblyError(.malformedTransaction, "the transaction cannot be co-signed: \(error)")
        }
    }
}
