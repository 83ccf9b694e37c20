import BlockIntegrity
import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import WorldState
import NodeClients

/// Validates the transactions of a block that `BlockVerifier` accepted, with Fabric's validation
/// codes: structure, creator signature (at the transaction's timestamp), txid binding, duplicate
/// txid (in the ledger and earlier in the block), endorsement signatures (each identity counted
/// once), the chaincode's endorsement policy, the key-level policy of every written key, MVCC
/// read versions and range-query phantoms against the committed state **plus the earlier valid
/// transactions of the same block**. Invalid transactions are data: a code, never an error.
///
/// Chaincodes are those whose definition the channel committed through `_lifecycle` (read from the
/// state as of the previous block); a transaction must name the defined version.
package struct BlockValidator: Sendable {
    /// The channel whose blocks this validates: a transaction naming another is TARGET_CHAIN_NOT_FOUND.
    package let channelID: String
    package let membership: MembershipRegistry
    /// The policy of `_lifecycle` transactions (Fabric's LifecycleEndorsement: a majority of the
    /// application organizations' peers).
    package let lifecyclePolicy: EndorsementPolicy
    /// The policy of chaincodes whose definition names none (the channel's default).
    package let defaultPolicy: EndorsementPolicy
    /// This peer's own endorsements, whose signatures need no second ECDSA verification.
    package let own: OwnEndorsements?
    /// Checks a CONFIG transaction against the channel's current configuration (its sequence is
    /// the next one and its last update, signed under the current policies, produces it); throws
    /// the reason it is refused. Nil: every CONFIG transaction is INVALID_CONFIG_TRANSACTION.
    package var configurationCheck: (@Sendable (TransactionEnvelope) throws -> Void)?

    package init(
        channelID: String, membership: MembershipRegistry, lifecyclePolicy: EndorsementPolicy, defaultPolicy: EndorsementPolicy, own: OwnEndorsements? = nil
    ) {
        self.channelID = channelID
        self.membership = membership
        self.lifecyclePolicy = lifecyclePolicy
        self.defaultPolicy = defaultPolicy
        self.own = own
    }

    /// The committed definition's policy and version of `chaincode`; nil when it has none.
    package func definition(of chaincode: String, reader: any StateReader) throws -> (policy: EndorsementPolicy, version: String)? {
        if chaincode == ChaincodeDefinition.namespace { return (lifecyclePolicy, ChaincodeDefinition.lifecycleVersion) }
        guard let bytes = try reader.get(namespace: ChaincodeDefinition.namespace, key: ChaincodeDefinition.definitionKey(chaincode))?.value,
            let definition = ChaincodeDefinition.decode(bytes)
        else { return nil }
        guard !definition.endorsementPolicy.isEmpty else { return (defaultPolicy, definition.version) }
        // The lifecycle chaincode refuses policies that do not parse; one that does not is never satisfied.
        return (Self.policy(definition.endorsementPolicy) ?? .outOf(count: 1, []), definition.version)
    }

    /// The parsed policy text; nil when it does not parse. Chaincode and key-level policies are
    /// read for every transaction and few distinct texts exist: parsed ones are kept by text.
    package static func policy(_ text: String) -> EndorsementPolicy? {
        parsedPolicies.value(for: text) { try? EndorsementPolicy.parse($0) }
    }

    private static let parsedPolicies = BoundedCache<String, EndorsementPolicy>(capacity: 1024)

    /// One outcome per transaction of `block`. `isCommitted` answers whether a txid is already in
    /// the ledger; `reader` is the state as of the previous block.
    package func validate(_ block: Common_Block, reader: any StateReader, isCommitted: (String) throws -> Bool) async throws -> [ValidatedTransaction] {
        try resolve(await prepare(block), blockNumber: block.header.number, reader: reader, isCommitted: isCommitted)
    }

    /// The checks that need no state — structure, creator signature, txid binding, endorsement
    /// signatures — run in parallel on at most `workers` tasks; each distinct signature check is
    /// made once per block (`BlockSignatureChecks`). A block's preparation may overlap
    /// the commit of the previous block.
    package func prepare(_ block: Common_Block, workers: Int = ProcessInfo.processInfo.activeProcessorCount) async -> [PreparedTransaction] {
        let envelopes = block.data.data
        let checks = BlockSignatureChecks(membership: membership, own: own)
        let orderingTime = block.orderingTime

        let workers = max(1, min(workers, envelopes.count))
        // A CONFIG transaction counts only alone in its block (orderers never mix them).
        let alone = envelopes.count == 1
        guard workers > 1 else { return envelopes.map { prepare($0, orderingTime: orderingTime, checks: checks, alone: alone) } }
        return await withTaskGroup(of: [(Int, PreparedTransaction)].self) { group in
            for worker in 0..<workers {
                group.addTask {
                    stride(from: worker, to: envelopes.count, by: workers).map { ($0, prepare(envelopes[$0], orderingTime: orderingTime, checks: checks, alone: alone)) }
                }
            }
            var prepared = [PreparedTransaction?](repeating: nil, count: envelopes.count)
            for await results in group {
                for (index, transaction) in results { prepared[index] = transaction }
            }
            return prepared.map { $0! }
        }
    }

    /// The checks that depend on the ledger, in block order: duplicate txids, policies (key-level
    /// policies as of the earlier valid transactions of the block), MVCC and phantom reads.
    package func resolve(
        _ prepared: [PreparedTransaction], blockNumber: UInt64, reader: any StateReader, isCommitted: (String) throws -> Bool
    ) throws -> [ValidatedTransaction] {
        var overlay = BlockOverlay(blockNumber: blockNumber)
        var seen: Set<String> = []
        var definitions: [String: (policy: EndorsementPolicy, version: String)?] = [:]
        var results: [ValidatedTransaction] = []
        results.reserveCapacity(prepared.count)
        for (index, transaction) in prepared.enumerated() {
            if case .configuration(let txID) = transaction {
                let duplicate = try seen.contains(txID) || isCommitted(txID)
                seen.insert(txID)
                results.append(ValidatedTransaction(transactionID: txID, code: duplicate ? .duplicateTxid : .valid))
                continue
            }
            guard case .candidate(let txID, let endorsed, let signers) = transaction else {
                if case .invalid(let txID, let code) = transaction { results.append(ValidatedTransaction(transactionID: txID, code: code)) }
                continue
            }
            func outcome(_ code: Protos_TxValidationCode) { results.append(ValidatedTransaction(transactionID: txID, code: code)) }
            guard !seen.contains(txID), try !isCommitted(txID) else {
                outcome(.duplicateTxid)
                continue
            }
            seen.insert(txID)
            let definitionOf = { (name: String) throws -> (policy: EndorsementPolicy, version: String)? in
                if let known = definitions[name] { return known }
                let found = try definition(of: name, reader: reader)
                definitions[name] = .some(found)
                return found
            }
            let chaincode = endorsed.chaincodeAction.chaincodeID
            guard let definition = try definitionOf(chaincode.name) else {
                outcome(.invalidChaincode)
                continue
            }
            guard chaincode.version == definition.version else {
                outcome(.expiredChaincode)
                continue
            }
            if let code = Self.writeSetFailure(endorsed) {
                outcome(code)
                continue
            }
            if let code = try policyFailure(endorsed, definitionOf: definitionOf, signers: signers, reader: reader, overlay: overlay) {
                outcome(code)
                continue
            }
            if let conflict = try readConflict(endorsed, reader: reader, overlay: overlay) {
                outcome(conflict)
                continue
            }
            try overlay.apply(endorsed, transactionNumber: UInt32(index), reader: reader)
            outcome(.valid)
        }
        return results
    }

    /// Whether `signers` satisfy the chaincode's policy and the key-level policy of every key the
    /// transaction writes, as the committed state stands now (the gateway's question before it
    /// stops collecting endorsements).
    package func endorsementsSatisfyPolicies(_ transaction: EndorserTransaction, signers: [PolicySigner], reader: any StateReader) throws -> Bool {
        guard Self.writeSetFailure(transaction) == nil else { return false }
        let failure = try policyFailure(
            transaction, definitionOf: { try definition(of: $0, reader: reader) }, signers: signers, reader: reader, overlay: BlockOverlay(blockNumber: 0))
        return failure == nil
    }

    /// Read/write sets no endorsement can make valid:
    /// - a namespace named twice, or one the state cannot hold (empty, or containing U+0000),
    ///   even if only read: ILLEGAL_WRITESET (Fabric's code for a repeated namespace);
    /// - a write into `_lifecycle` (chaincode definitions) by anything but `_lifecycle` itself:
    ///   ILLEGAL_WRITESET;
    /// - key metadata beyond `Limits.keyMetadataEntriesMax` entries or a name beyond
    ///   `Limits.keyMetadataNameBytesMax` bytes: INVALID_WRITESET.
    /// What passes here the state database accepts, so a VALID transaction always commits.
    package static func writeSetFailure(_ transaction: EndorserTransaction) -> Protos_TxValidationCode? {
        let invoked = transaction.chaincodeAction.chaincodeID.name
        // Private data collections and range queries summarized by Merkle hashes are not supported
        // (Medrex endorsers produce neither): a transaction carrying them cannot be validated as
        // Fabric would, so it is refused rather than half-applied.
        if transaction.carriesPrivateData { return .badRwset }
        var namespaces: Set<String> = []
        for (namespace, set) in transaction.readWriteSets {
            if set.rangeQueriesInfo.contains(where: { if case .readsMerkleHashes = $0.readsInfo { true } else { false } }) { return .badRwset }
            guard !namespace.isEmpty, !namespace.utf8.contains(0), namespaces.insert(namespace).inserted else { return .illegalWriteset }
            let writes = !set.writes.isEmpty || !set.metadataWrites.isEmpty
            if writes, namespace == ChaincodeDefinition.namespace, invoked != ChaincodeDefinition.namespace { return .illegalWriteset }
            for write in set.metadataWrites {
                guard write.entries.count <= Limits.keyMetadataEntriesMax,
                    write.entries.allSatisfy({ $0.name.utf8.count <= Limits.keyMetadataNameBytesMax })
                else { return .invalidWriteset }
            }
        }
        return nil
    }

    /// The state-free checks of one transaction, in the order of Fabric's `ValidateTransaction`
    /// and the committer's `validateTx`, each failure with Fabric's code.
    ///
    /// With the block's `orderingTime` (the orderer's signed clock), a transaction whose
    /// timestamp is more than `Limits.transactionTimeWindow` from it is BAD_CHANNEL_HEADER: the
    /// time chaincode decided by cannot be stretched by the client beyond that window.
    private func prepare(_ bytes: Data, orderingTime: Date?, checks: BlockSignatureChecks, alone: Bool) -> PreparedTransaction {
        let transaction: TransactionEnvelope
        do {
            transaction = try TransactionEnvelope(serialized: bytes)
        } catch {
            return .invalid(transactionID: nil, code: error.validationCode)
        }
        let txID = transaction.channelHeader.txID
        if let code = Self.headerFailure(transaction) { return .invalid(transactionID: txID, code: code) }
        switch transaction.headerType {
        case .endorserTransaction, .config: break
        default: return .invalid(transactionID: txID, code: .unsupportedTxPayload)
        }
        let timestamp = transaction.channelHeader.timestamp.instant
        if let orderingTime, abs(timestamp.timeIntervalSince(orderingTime)) > Limits.transactionTimeWindow {
            return .invalid(transactionID: txID, code: .badChannelHeader)
        }
        guard checks.verify(
            signature: transaction.envelope.signature, over: transaction.envelope.payload, by: transaction.signatureHeader.creator, at: timestamp) != nil
        else { return .invalid(transactionID: txID, code: .badCreatorSignature) }
        guard txID == transaction.expectedTransactionID else { return .invalid(transactionID: txID, code: .badProposalTxid) }
        if transaction.headerType == .config {
            guard transaction.channelHeader.channelID == channelID else { return .invalid(transactionID: txID, code: .targetChainNotFound) }
            guard alone, let configurationCheck, (try? configurationCheck(transaction)) != nil else {
                return .invalid(transactionID: txID, code: .invalidConfigTransaction)
            }
            return .configuration(transactionID: txID)
        }
        let endorsed: EndorserTransaction
        do {
            endorsed = try EndorserTransaction(boundTo: transaction)
        } catch {
            return .invalid(transactionID: txID, code: error.validationCode)
        }
        guard transaction.channelHeader.channelID == channelID else { return .invalid(transactionID: txID, code: .targetChainNotFound) }
        if let code = Self.actionFailure(endorsed, transaction) { return .invalid(transactionID: txID, code: code) }
        return .candidate(transactionID: txID, transaction: endorsed, endorsers: endorsers(of: endorsed, at: timestamp, checks: checks))
    }

    /// Fabric's `validateCommonHeader`: a known header type, epoch 0, a timestamp, a nonce and a
    /// creator; BAD_COMMON_HEADER otherwise.
    package static func headerFailure(_ transaction: TransactionEnvelope) -> Protos_TxValidationCode? {
        let header = transaction.channelHeader
        switch transaction.headerType {
        case .endorserTransaction, .config, .configUpdate: break
        default: return .badCommonHeader
        }
        guard header.epoch == 0, header.hasTimestamp, !transaction.signatureHeader.nonce.isEmpty, !transaction.signatureHeader.creator.isEmpty
        else { return .badCommonHeader }
        return nil
    }

    /// The action agrees with the proposal (Fabric's dispatcher): the header extension names a
    /// chaincode (BAD_HEADER_EXTENSION when it does not decode, INVALID_CHAINCODE when the name is
    /// empty), the action is that chaincode's with a non-empty version (INVALID_CHAINCODE), and
    /// its event, if any, is that chaincode's (INVALID_OTHER_REASON).
    package static func actionFailure(_ endorsed: EndorserTransaction, _ transaction: TransactionEnvelope) -> Protos_TxValidationCode? {
        guard let headerExtension = try? Protos_ChaincodeHeaderExtension(serializedBytes: transaction.channelHeader.extension) else {
            return .badHeaderExtension
        }
        guard headerExtension.hasChaincodeID else { return .invalidOtherReason }
        guard !headerExtension.chaincodeID.name.isEmpty else { return .invalidChaincode }
        let action = endorsed.chaincodeAction
        guard action.hasChaincodeID else { return .invalidOtherReason }
        guard action.chaincodeID.name == headerExtension.chaincodeID.name, !action.chaincodeID.version.isEmpty else { return .invalidChaincode }
        if !action.events.isEmpty {
            guard let event = try? Protos_ChaincodeEvent(serializedBytes: action.events), event.chaincodeID == action.chaincodeID.name
            else { return .invalidOtherReason }
        }
        return nil
    }

    /// The distinct, verified endorsers; an endorsement that does not verify counts for nothing.
    private func endorsers(of transaction: EndorserTransaction, at time: Date, checks: BlockSignatureChecks) -> [PolicySigner] {
        var signers: [String: PolicySigner] = [:]
        for endorsement in transaction.endorsements {
            let signed = transaction.proposalResponsePayload + endorsement.endorser
            if let identity = checks.verify(signature: endorsement.signature, over: signed, by: endorsement.endorser, at: time) {
                signers[identity.identityID] = identity.policySigner
            }
        }
        return Array(signers.values)
    }

    /// Fabric's per-namespace validation: the invoked chaincode's namespace and every namespace
    /// the transaction writes (values or key metadata) are each checked under that namespace's
    /// own chaincode definition. Within a namespace, a written key with a key-level policy needs
    /// that policy; the namespace's chaincode policy is needed when some written key there has
    /// none, or nothing there is written (the invoked chaincode). A written namespace with no
    /// committed definition is INVALID_CHAINCODE (as Fabric); an unsatisfied policy
    /// ENDORSEMENT_POLICY_FAILURE.
    private func policyFailure(
        _ transaction: EndorserTransaction, definitionOf: (String) throws -> (policy: EndorsementPolicy, version: String)?,
        signers: [PolicySigner], reader: any StateReader, overlay: BlockOverlay
    ) throws -> Protos_TxValidationCode? {
        let invoked = transaction.chaincodeAction.chaincodeID.name
        var keysByNamespace: [String: Set<String>] = [invoked: []]
        for (namespace, set) in transaction.readWriteSets where !set.writes.isEmpty || !set.metadataWrites.isEmpty {
            keysByNamespace[namespace, default: []].formUnion(set.writes.map(\.key))
            keysByNamespace[namespace, default: []].formUnion(set.metadataWrites.map(\.key))
        }
        var definitions: [(namespace: String, policy: EndorsementPolicy)] = []
        for namespace in keysByNamespace.keys.sorted() {
            guard let definition = try definitionOf(namespace) else { return .invalidChaincode }
            definitions.append((namespace, definition.policy))
        }
        for (namespace, chaincodePolicy) in definitions {
            let keys = keysByNamespace[namespace] ?? []
            var needsChaincodePolicy = keys.isEmpty
            for key in keys {
                guard let policyBytes = try overlay.metadata(namespace, key, reader: reader)?[StateMetadataName.validationParameter] else {
                    needsChaincodePolicy = true
                    continue
                }
                guard let policy = Self.policy(String(decoding: policyBytes, as: UTF8.self)), policy.isSatisfied(by: signers) else {
                    return .endorsementPolicyFailure
                }
            }
            if needsChaincodePolicy, !chaincodePolicy.isSatisfied(by: signers) { return .endorsementPolicyFailure }
        }
        return nil
    }

    /// MVCC: every read's version must still be the current one; every range query must return
    /// the same keys and versions now.
    private func readConflict(_ transaction: EndorserTransaction, reader: any StateReader, overlay: BlockOverlay) throws -> Protos_TxValidationCode? {
        for (namespace, set) in transaction.readWriteSets {
            for read in set.reads where !read.matches(try overlay.version(namespace, read.key, reader: reader)) {
                return .mvccReadConflict
            }
            for query in set.rangeQueriesInfo {
                let now = try overlay.range(namespace, start: query.startKey, end: query.endKey, count: query.rawReads.kvReads.count, exhausted: query.itrExhausted, reader: reader)
                let then = query.rawReads.kvReads
                if now.count != then.count || zip(now, then).contains(where: { $0.0 != $1.key || !$1.matches($0.1) }) { return .phantomReadConflict }
            }
        }
        return nil
    }
}

/// A transaction after the state-independent checks: refused with a code, or a candidate whose
/// endorsers' signatures verified.
package enum PreparedTransaction: Sendable {
    case invalid(transactionID: String?, code: Protos_TxValidationCode)
    case candidate(transactionID: String, transaction: EndorserTransaction, endorsers: [PolicySigner])
    /// A CONFIG transaction that the channel's configuration accepts.
    case configuration(transactionID: String)

}

/// A transaction's validation code, with its txid when its header could be read.
package struct ValidatedTransaction: Sendable, Hashable {
    package let transactionID: String?
    package let code: Protos_TxValidationCode
}

/// The writes of the block's earlier valid transactions, seen through before the committed state.
package struct BlockOverlay {
    package let blockNumber: UInt64
    private var values: [StateUpdateBatch.Key: StateVersion?] = [:]
    private var metadata: [StateUpdateBatch.Key: [String: [UInt8]]] = [:]

    package init(blockNumber: UInt64) { self.blockNumber = blockNumber }

    package func version(_ namespace: String, _ key: String, reader: any StateReader) throws -> StateVersion? {
        if let written = values[StateUpdateBatch.Key(namespace: namespace, key: key)] { return written }
        return try reader.get(namespace: namespace, key: key)?.version
    }

    package func metadata(_ namespace: String, _ key: String, reader: any StateReader) throws -> [String: [UInt8]]? {
        let id = StateUpdateBatch.Key(namespace: namespace, key: key)
        if let written = metadata[id] { return written }
        if let written = values[id], written == nil { return nil }
        return try reader.get(namespace: namespace, key: key)?.metadata
    }

    /// The keys and versions a range query would return now (committed state merged with the
    /// block's earlier writes), as far as the original query read.
    package func range(_ namespace: String, start: String, end: String, count: Int, exhausted: Bool, reader: any StateReader) throws -> [(String, StateVersion)] {
        var merged: [String: StateVersion?] = [:]
        var bookmark: String? = start
        while let from = bookmark {
            let page = try reader.range(namespace: namespace, startKey: from, endKey: end, pageSize: 1000)
            for entry in page.entries { merged[entry.key] = .some(entry.value.version) }
            bookmark = page.bookmark
        }
        for (id, version) in values where id.namespace == namespace && !id.key.utf8.lexicographicallyPrecedes(start.utf8)
            && (end.isEmpty || id.key.utf8.lexicographicallyPrecedes(end.utf8)) {
            merged[id.key] = .some(version)
        }
        let sorted = merged.compactMap { key, version -> (String, StateVersion)? in version.map { (key, $0) } }.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        return exhausted ? sorted : Array(sorted.prefix(count))
    }

    /// Adds a valid transaction's writes, as committing them would (`StateUpdateBatch`): a value
    /// write or delete gives the key this transaction's version; a metadata write to a key that
    /// exists replaces its metadata and gives it this version too (Fabric rewrites the value with
    /// it), and one to a key that does not exist at this point is dropped, as Fabric drops it.
    package mutating func apply(_ transaction: EndorserTransaction, transactionNumber: UInt32, reader: any StateReader) throws {
        let version = StateVersion(blockNumber: blockNumber, transactionNumber: transactionNumber)
        for (namespace, set) in transaction.readWriteSets {
            for write in set.writes {
                let id = StateUpdateBatch.Key(namespace: namespace, key: write.key)
                values[id] = write.isDelete ? .some(nil) : .some(version)
                if write.isDelete { metadata[id] = [:] }
            }
            for write in set.metadataWrites where try self.version(namespace, write.key, reader: reader) != nil {
                let id = StateUpdateBatch.Key(namespace: namespace, key: write.key)
                metadata[id] = Dictionary(write.entries.map { ($0.name, Array($0.value)) }, uniquingKeysWith: { _, last in last })
                values[id] = .some(version)
            }
        }
    }
}
