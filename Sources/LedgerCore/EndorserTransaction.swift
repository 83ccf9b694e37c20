import Foundation
import LedgerWire
import SwiftProtobuf

/// An endorser transaction decoded down to its read/write sets: the chaincode action, the
/// endorsements, and each namespace's KV read/write set. Fabric transactions carry exactly one
/// action; more or fewer is an invalid transaction.
package struct EndorserTransaction: Sendable {
    package let proposalResponsePayload: Data
    package let endorsements: [Protos_Endorsement]
    package let chaincodeAction: Protos_ChaincodeAction
    package let readWriteSets: [(namespace: String, readWriteSet: Kvrwset_KVRWSet)]

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
        proposalResponsePayload = endorsedAction.proposalResponsePayload
        endorsements = endorsedAction.endorsements
        chaincodeAction = action
        readWriteSets = namespaces
    }
}
