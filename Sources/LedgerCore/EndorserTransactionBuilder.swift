import Crypto
import Foundation
import LedgerWire
import SwiftProtobuf

/// Assembles an ENDORSER_TRANSACTION envelope around a chaincode action's read/write sets, in
/// Fabric's nesting (Envelope → Payload → Transaction → ChaincodeActionPayload →
/// ChaincodeEndorsedAction → ProposalResponsePayload → ChaincodeAction → TxReadWriteSet).
package struct EndorserTransactionBuilder {
    package var channelID: String
    package var chaincodeName: String
    /// The version the endorsers ran (must equal the channel's committed definition to be valid).
    package var chaincodeVersion = ""
    /// Serialized msp.SerializedIdentity of the creator.
    package var creator: Data
    package var nonce: Data
    package var timestamp: Date
    package var readWriteSets: [(namespace: String, readWriteSet: Kvrwset_KVRWSet)] = []
    package var endorsements: [Protos_Endorsement] = []
    /// The invocation's arguments, carried in the transaction's chaincode proposal payload.
    package var arguments: [Data] = []

    package init(channelID: String, chaincodeName: String, creator: Data, nonce: Data, timestamp: Date) {
        self.channelID = channelID
        self.chaincodeName = chaincodeName
        self.creator = creator
        self.nonce = nonce
        self.timestamp = timestamp
    }

    package var transactionID: String { TransactionID.make(nonce: nonce, creator: creator) }

    /// The ProposalResponsePayload bytes endorsers sign (with their identity appended); its
    /// proposal hash binds it to this transaction's headers and proposal payload.
    package func proposalResponsePayload() throws -> Data {
        var readWriteSet = Rwset_TxReadWriteSet()
        readWriteSet.dataModel = .kv
        readWriteSet.nsRwset = try readWriteSets.map { namespace, set in
            var namespaceSet = Rwset_NsReadWriteSet()
            namespaceSet.namespace = namespace
            namespaceSet.rwset = try set.serializedData()
            return namespaceSet
        }
        var action = Protos_ChaincodeAction()
        action.results = try readWriteSet.serializedData()
        action.chaincodeID.name = chaincodeName
        action.chaincodeID.version = chaincodeVersion
        action.response.status = 200
        var payload = Protos_ProposalResponsePayload()
        payload.proposalHash = ProposalHash.of(
            channelHeader: try channelHeader(), signatureHeader: try signatureHeader(), proposalPayload: try chaincodeProposalPayload())
        payload.extension = try action.serializedData()
        return try payload.serializedData()
    }

    /// The serialized channel header (ENDORSER_TRANSACTION, with the chaincode header extension).
    package func channelHeader() throws -> Data {
        var channelHeader = Common_ChannelHeader()
        channelHeader.type = Int32(Common_HeaderType.endorserTransaction.rawValue)
        channelHeader.channelID = channelID
        channelHeader.txID = transactionID
        channelHeader.timestamp = Google_Protobuf_Timestamp(date: timestamp)
        var headerExtension = Protos_ChaincodeHeaderExtension()
        headerExtension.chaincodeID.name = chaincodeName
        channelHeader.extension = try headerExtension.serializedData()
        return try channelHeader.serializedData()
    }

    /// The serialized signature header (creator and nonce).
    package func signatureHeader() throws -> Data {
        var signatureHeader = Common_SignatureHeader()
        signatureHeader.creator = creator
        signatureHeader.nonce = nonce
        return try signatureHeader.serializedData()
    }

    /// The serialized chaincode proposal payload as a transaction carries it (no transient map).
    package func chaincodeProposalPayload() throws -> Data {
        var invocation = Protos_ChaincodeInvocationSpec()
        invocation.chaincodeSpec.chaincodeID.name = chaincodeName
        invocation.chaincodeSpec.input.args = arguments
        var payload = Protos_ChaincodeProposalPayload()
        payload.input = try invocation.serializedData()
        return try payload.serializedData()
    }

    /// The envelope, signed over its payload by `sign` (left unsigned when nil).
    package func envelope(sign: ((Data) throws -> Data)? = nil) throws -> Common_Envelope {
        let signatureHeader = try signatureHeader()
        var endorsedAction = Protos_ChaincodeEndorsedAction()
        endorsedAction.proposalResponsePayload = try proposalResponsePayload()
        endorsedAction.endorsements = endorsements
        var actionPayload = Protos_ChaincodeActionPayload()
        actionPayload.chaincodeProposalPayload = try chaincodeProposalPayload()
        actionPayload.action = endorsedAction
        var transactionAction = Protos_TransactionAction()
        transactionAction.header = signatureHeader
        transactionAction.payload = try actionPayload.serializedData()
        var transaction = Protos_Transaction()
        transaction.actions = [transactionAction]

        var payload = Common_Payload()
        payload.header.channelHeader = try channelHeader()
        payload.header.signatureHeader = signatureHeader
        payload.data = try transaction.serializedData()
        var envelope = Common_Envelope()
        envelope.payload = try payload.serializedData()
        if let sign { envelope.signature = try sign(envelope.payload) }
        return envelope
    }
}

extension Common_Block {
    /// Records one validation code per transaction in the TRANSACTIONS_FILTER metadata slot.
    package mutating func setValidationCodes(_ codes: [Protos_TxValidationCode]) {
        precondition(codes.count == data.data.count, "one validation code per transaction")
        while metadata.metadata.count < Self.metadataSlotCount { metadata.metadata.append(Data()) }
        metadata.metadata[Common_BlockMetadataIndex.transactionsFilter.rawValue] = Data(codes.map(\.filterByte))
    }
}
