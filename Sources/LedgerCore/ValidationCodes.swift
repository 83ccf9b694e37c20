import LedgerWire

extension Protos_TxValidationCode {
    /// Fabric's name of the code (`MVCC_READ_CONFLICT`), as logs, metrics and the CLI print it.
    package var name: String {
        switch self {
        case .valid: "VALID"
        case .nilEnvelope: "NIL_ENVELOPE"
        case .badPayload: "BAD_PAYLOAD"
        case .badCommonHeader: "BAD_COMMON_HEADER"
        case .badCreatorSignature: "BAD_CREATOR_SIGNATURE"
        case .invalidEndorserTransaction: "INVALID_ENDORSER_TRANSACTION"
        case .invalidConfigTransaction: "INVALID_CONFIG_TRANSACTION"
        case .unsupportedTxPayload: "UNSUPPORTED_TX_PAYLOAD"
        case .badProposalTxid: "BAD_PROPOSAL_TXID"
        case .duplicateTxid: "DUPLICATE_TXID"
        case .endorsementPolicyFailure: "ENDORSEMENT_POLICY_FAILURE"
        case .mvccReadConflict: "MVCC_READ_CONFLICT"
        case .phantomReadConflict: "PHANTOM_READ_CONFLICT"
        case .unknownTxType: "UNKNOWN_TX_TYPE"
        case .targetChainNotFound: "TARGET_CHAIN_NOT_FOUND"
        case .marshalTxError: "MARSHAL_TX_ERROR"
        case .nilTxaction: "NIL_TXACTION"
        case .expiredChaincode: "EXPIRED_CHAINCODE"
        case .chaincodeVersionConflict: "CHAINCODE_VERSION_CONFLICT"
        case .badHeaderExtension: "BAD_HEADER_EXTENSION"
        case .badChannelHeader: "BAD_CHANNEL_HEADER"
        case .badResponsePayload: "BAD_RESPONSE_PAYLOAD"
        case .badRwset: "BAD_RWSET"
        case .illegalWriteset: "ILLEGAL_WRITESET"
        case .invalidWriteset: "INVALID_WRITESET"
        case .invalidChaincode: "INVALID_CHAINCODE"
        case .notValidated: "NOT_VALIDATED"
        case .invalidOtherReason: "INVALID_OTHER_REASON"
        case .UNRECOGNIZED(let value): "UNRECOGNIZED(\(value))"
        }
    }

    /// One line on why a transaction gets this code.
    package var cause: String {
        switch self {
        case .valid: "the transaction passed every check and its writes were applied"
        case .nilEnvelope: "the block entry is empty or not an envelope"
        case .badPayload: "the envelope's payload or transaction body does not decode"
        case .badCommonHeader: "the payload header or its signature header is missing or malformed"
        case .badCreatorSignature: "the creator's identity is not valid here or its signature over the payload does not verify"
        case .invalidEndorserTransaction: "the endorser transaction is malformed (e.g. not exactly one action, or endorsements that do not verify)"
        case .invalidConfigTransaction: "the configuration transaction is not a valid update of the channel configuration"
        case .unsupportedTxPayload: "the transaction's header type is not one this channel processes"
        case .badProposalTxid: "the txid is not SHA-256 of the nonce and the creator"
        case .duplicateTxid: "a transaction with the same txid is already in the ledger or earlier in the block"
        case .endorsementPolicyFailure: "the endorsements do not satisfy the chaincode's or a written key's endorsement policy"
        case .mvccReadConflict: "a key the transaction read changed after it was simulated"
        case .phantomReadConflict: "a range the transaction queried gained, lost or changed keys after it was simulated"
        case .unknownTxType: "the transaction's header type is unknown"
        case .targetChainNotFound: "the transaction names a channel this peer has not joined"
        case .marshalTxError: "the transaction could not be re-encoded"
        case .nilTxaction: "the transaction has no action"
        case .expiredChaincode: "the chaincode the transaction invoked is no longer defined"
        case .chaincodeVersionConflict: "the transaction was endorsed against a different chaincode definition than the committed one"
        case .badHeaderExtension: "the chaincode header extension does not decode or names no chaincode"
        case .badChannelHeader: "the channel header does not decode, or its timestamp is more than 5 minutes from the block's ordering time"
        case .badResponsePayload: "the proposal response payload or its chaincode action does not decode"
        case .badRwset: "the read/write set does not decode"
        case .illegalWriteset: "the transaction writes to a namespace it may not write"
        case .invalidWriteset: "the write set is not allowed (e.g. a key or value that breaks the rules)"
        case .invalidChaincode: "the chaincode named by the transaction is not valid"
        case .notValidated: "validation did not reach this transaction"
        case .invalidOtherReason: "the transaction is invalid for a reason without its own code"
        case .UNRECOGNIZED: "the code is not one Fabric defines"
        }
    }

    /// The byte stored for this code in a block's TRANSACTIONS_FILTER metadata.
    package var filterByte: UInt8 { UInt8(truncatingIfNeeded: rawValue) }
}

extension Common_Block {
    /// Validation codes from the block's TRANSACTIONS_FILTER metadata, one per transaction; nil
    /// when the block has not been validated (no filter of the right length).
    package var transactionValidationCodes: [Protos_TxValidationCode]? {
        let filterIndex = Common_BlockMetadataIndex.transactionsFilter.rawValue
        guard metadata.metadata.count > filterIndex else { return nil }
        let filter = metadata.metadata[filterIndex]
        guard filter.count == data.data.count else { return nil }
        return filter.map { Protos_TxValidationCode(rawValue: Int($0)) ?? .UNRECOGNIZED(Int($0)) }
    }
}
