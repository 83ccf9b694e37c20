import Crypto
import Foundation
import LedgerWire
import SwiftProtobuf

/// An endorser transaction decoded down to its read/write sets: the chaincode action, the
/// endorsements, and each namespace's KV read/write set. Fabric transactions carry exactly one
/// action; more or fewer is an invalid transaction.
package struct EndorserTransaction: Sendable {
    /// The action's header: a serialized `common.SignatureHeader`, the proposal's.
    package let actionHeader: Data
    /// The proposal payload as the transaction carries it (without its transient map).
    package let chaincodeProposalPayload: Data
    /// The proposal hash that every endorsement signed (inside the proposal response payload).
    package let proposalHash: Data
    package let proposalResponsePayload: Data
    package let endorsements: [Protos_Endorsement]
    package let chaincodeAction: Protos_ChaincodeAction
    package let readWriteSets: [(namespace: String, readWriteSet: Kvrwset_KVRWSet)]
    /// Whether any namespace carries private data (collection hashed read/write sets), which
    /// Medrex does not support.
    package let carriesPrivateData: Bool

    package init(payloadData data: Data) throws(TransactionEnvelope.DecodingFailure) {
        guard let transaction = try? Protos_Transaction(serializedBytes: data) else {
            throw .init(validationCode: .badPayload, reason: "payload data is not a peer.Transaction")
        }
        guard transaction.actions.count == 1 else {
            throw .init(validationCode: .invalidEndorserTransaction, reason: "transaction has \(transaction.actions.count) actions; exactly one is expected")
        }
        guard let actionPayload = try? Protos_ChaincodeActionPayload(serializedBytes: transaction.actions[0].payload), actionPayload.hasAction else {
            throw .init(validationCode: .badPayload, reason: "transaction action is not a peer.ChaincodeActionPayload")
        }
        let endorsedAction = actionPayload.action
        guard let responsePayload = try? Protos_ProposalResponsePayload(serializedBytes: endorsedAction.proposalResponsePayload) else {
            throw .init(validationCode: .badResponsePayload, reason: "proposal response payload is not a peer.ProposalResponsePayload")
        }
        guard let action = try? Protos_ChaincodeAction(serializedBytes: responsePayload.extension) else {
            throw .init(validationCode: .badResponsePayload, reason: "proposal response extension is not a peer.ChaincodeAction")
        }
        guard let readWriteSet = try? Rwset_TxReadWriteSet(serializedBytes: action.results) else {
            throw .init(validationCode: .badRwset, reason: "chaincode action results are not a rwset.TxReadWriteSet")
        }
        var namespaces: [(String, Kvrwset_KVRWSet)] = []
        for namespaceSet in readWriteSet.nsRwset {
            guard let kvSet = try? Kvrwset_KVRWSet(serializedBytes: namespaceSet.rwset) else {
                throw .init(validationCode: .badRwset, reason: "read/write set of namespace '\(namespaceSet.namespace)' is not a kvrwset.KVRWSet")
            }
            namespaces.append((namespaceSet.namespace, kvSet))
        }
        actionHeader = transaction.actions[0].header
        chaincodeProposalPayload = actionPayload.chaincodeProposalPayload
        proposalHash = responsePayload.proposalHash
        proposalResponsePayload = endorsedAction.proposalResponsePayload
        endorsements = endorsedAction.endorsements
        chaincodeAction = action
        readWriteSets = namespaces
        carriesPrivateData = readWriteSet.nsRwset.contains { !$0.collectionHashedRwset.isEmpty }
    }
}

extension EndorserTransaction {
    /// Decodes the endorser transaction of `envelope` and checks that its endorsements are bound
    /// to this transaction, as Fabric's `validateEndorserTransaction` does: the action's header is
    /// the envelope's signature header, and the proposal hash the endorsers signed is the hash of
    /// the envelope's channel header, signature header and the proposal payload the transaction
    /// carries. An endorsement taken from another transaction (another txid, creator or nonce,
    /// other arguments) fails with INVALID_ENDORSER_TRANSACTION.
    package init(boundTo envelope: TransactionEnvelope) throws(TransactionEnvelope.DecodingFailure) {
        try self.init(payloadData: envelope.payload.data)
        guard actionHeader == envelope.payload.header.signatureHeader else {
            throw .init(validationCode: .invalidEndorserTransaction, reason: "the action's signature header is not the transaction's")
        }
        let expected = ProposalHash.of(
            channelHeader: envelope.payload.header.channelHeader, signatureHeader: envelope.payload.header.signatureHeader,
            proposalPayload: chaincodeProposalPayload)
        guard proposalHash == expected else {
            throw .init(validationCode: .invalidEndorserTransaction, reason: "the endorsed proposal hash does not match the transaction's header and proposal")
        }
    }
}

/// Fabric's proposal hash: SHA-256 of the serialized channel header, the serialized signature
/// header and the serialized chaincode proposal payload without its transient map (which never
/// reaches the ledger). Endorsers sign it inside the proposal response payload; validation
/// recomputes it from the transaction.
package enum ProposalHash {
    package static func of(channelHeader: Data, signatureHeader: Data, proposalPayload: Data) -> Data {
        var hasher = SHA256()
        hasher.update(data: channelHeader)
        hasher.update(data: signatureHeader)
        hasher.update(data: proposalPayload)
        return Data(hasher.finalize())
    }

    /// The proposal payload as a transaction carries it: `payload` without its transient map.
    package static func payloadForTransaction(_ payload: Data) throws -> Data {
        var visible = try Protos_ChaincodeProposalPayload(serializedBytes: payload)
        visible.transientMap = [:]
        return try visible.serializedData()
    }
}
