import Foundation

/// Every size and count bound of the ledger, in one place. Units or qualifiers come last in names.
package enum Limits {
    /// Most transactions one block may carry.
    package static let blockTransactionCountMax = 10_000
    /// Most certificates between an identity and its root CA, both included.
    package static let certificateChainLengthMax = 5
    /// Validated identities an MSP remembers (see `ValidatedIdentityCache`).
    package static let validatedIdentityCacheEntriesMax = 10_000
    /// Largest PEM certificate accepted inside a serialized identity.
    package static let identityCertificateBytesMax = 64 * 1024
    /// Largest endorsement-policy expression accepted by the parser.
    package static let policyTextBytesMax = 16 * 1024
    /// Deepest nesting of AND / OR / OutOf accepted by the parser.
    package static let policyNestingDepthMax = 32
    /// Most keys one range query returns (unpaginated queries fail beyond it; pages are at most it).
    package static let rangeQueryPageSizeMax = 10_000
    /// Largest response payload a chaincode may return.
    package static let chaincodeResponseBytesMax = 4 * 1024 * 1024
    /// Longest a chaincode may run for one proposal.
    package static let chaincodeExecutionTimeMax: Duration = .seconds(5)
    /// Most envelopes of one Broadcast stream waiting for their block at a time.
    package static let broadcastInFlightMax = 10_000
    /// How long the gateway follows a transaction whose ordering the orderer could not confirm
    /// (the answer was lost, or "may or may not have been ordered") before it reports the outcome
    /// as unknown; Fabric's gateway waits as long for an orderer's answer (broadcastTimeout).
    package static let unconfirmedSubmissionFollowTime: Duration = .seconds(30)
    /// While following such a transaction, how long the gateway waits for it to commit before it
    /// sends the same envelope again (a second copy that is ordered too is marked DUPLICATE_TXID).
    package static let unconfirmedSubmissionResendInterval: Duration = .seconds(5)
    /// Transactions one client may have in progress on one streaming-transaction stream; the
    /// stream stops reading until one finishes.
    package static let streamedTransactionsInFlightMax = 4_096
    /// Largest difference between a transaction's timestamp and its block's ordering time
    /// (`Common_Block.orderingTime`), either way: validation marks a transaction outside it
    /// BAD_CHANNEL_HEADER. Chaincode decisions by the transaction time (emergency access, consent
    /// expiry) are bounded by it. The same on every peer: it decides validity.
    package static let transactionTimeWindow: TimeInterval = 5 * 60
    /// The endorser's default largest difference between a proposal's timestamp and its clock.
    package static let proposalTimestampSkewDefault: TimeInterval = 5 * 60
    /// Most metadata entries one key may carry (Fabric's state-based endorsement uses one,
    /// `VALIDATION_PARAMETER`); a transaction writing more is INVALID_WRITESET.
    package static let keyMetadataEntriesMax = 8
    /// Longest name of a key metadata entry, in UTF-8 bytes.
    package static let keyMetadataNameBytesMax = 256
}
