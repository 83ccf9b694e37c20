import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import WorldState

/// Validates the transactions of a block that `BlockVerifier` accepted, with Fabric's validation
/// codes: structure, creator signature (at the transaction's timestamp), txid binding, duplicate
/// txid (in the ledger and earlier in the block), endorsement signatures (each identity counted
/// once), the chaincode's endorsement policy, the key-level policy of every written key, MVCC
/// read versions and range-query phantoms against the committed state **plus the earlier valid
/// transactions of the same block**. Invalid transactions are data: a code, never an error.
package struct BlockValidator: Sendable {
    package let membership: MembershipRegistry
    /// The endorsement policy of each chaincode defined on the channel.
    package let chaincodePolicies: [String: EndorsementPolicy]

    package init(membership: MembershipRegistry, chaincodePolicies: [String: EndorsementPolicy]) {
        self.membership = membership
        self.chaincodePolicies = chaincodePolicies
    }

    /// One code per transaction of `block`. `isCommitted` answers whether a txid is already in the
    /// ledger; `reader` is the state as of the previous block.
    package func validate(_ block: Common_Block, reader: any StateReader, isCommitted: (String) throws -> Bool) throws -> [Protos_TxValidationCode] {
        var overlay = BlockOverlay(blockNumber: block.header.number)
        var seenTransactionIDs: Set<String> = []
        var codes: [Protos_TxValidationCode] = []
        for (index, envelope) in block.data.data.enumerated() {
            let code = try validateTransaction(
                envelope, index: UInt32(index), reader: reader, overlay: &overlay, seen: &seenTransactionIDs, isCommitted: isCommitted)
            codes.append(code)
        }
        return codes
    }

    private func validateTransaction(
        _ bytes: Data, index: UInt32, reader: any StateReader, overlay: inout BlockOverlay, seen: inout Set<String>,
        isCommitted: (String) throws -> Bool
    ) throws -> Protos_TxValidationCode {
        let transaction: TransactionEnvelope
        do {
            transaction = try TransactionEnvelope(serialized: bytes)
        } catch {
            return error.validationCode
        }
        guard transaction.headerType == .endorserTransaction else {
            return transaction.headerType == .config ? .invalidConfigTransaction : .unknownTxType
        }
        let timestamp = transaction.channelHeader.timestamp.date
        guard (try? membership.verify(
            signature: transaction.envelope.signature, over: transaction.envelope.payload, by: transaction.signatureHeader.creator, at: timestamp)) != nil
        else { return .badCreatorSignature }
        let txID = transaction.channelHeader.txID
        guard txID == transaction.expectedTransactionID else { return .badProposalTxid }
        guard !seen.contains(txID), try !isCommitted(txID) else { return .duplicateTxid }
        seen.insert(txID)
        let endorsed: EndorserTransaction
        do {
            endorsed = try EndorserTransaction(payloadData: transaction.payload.data)
        } catch {
            return error.validationCode
        }
        guard let chaincodePolicy = chaincodePolicies[endorsed.chaincodeAction.chaincodeID.name] else { return .invalidChaincode }
        let signers = endorsers(of: endorsed, at: timestamp)
        guard try policiesHold(endorsed, chaincodePolicy: chaincodePolicy, signers: signers, reader: reader, overlay: overlay) else {
            return .endorsementPolicyFailure
        }
        if let conflict = try readConflict(endorsed, reader: reader, overlay: overlay) { return conflict }
        overlay.apply(endorsed, transactionNumber: index)
        return .valid
    }

    /// The distinct, verified endorsers; an endorsement that does not verify counts for nothing.
    private func endorsers(of transaction: EndorserTransaction, at time: Date) -> [PolicySigner] {
        var signers: [String: PolicySigner] = [:]
        for endorsement in transaction.endorsements {
            let signed = transaction.proposalResponsePayload + endorsement.endorser
            if let identity = try? membership.verify(signature: endorsement.signature, over: signed, by: endorsement.endorser, at: time) {
                signers[identity.identityID] = identity.policySigner
            }
        }
        return Array(signers.values)
    }

    /// Every written key with a key-level policy needs that policy; the chaincode's policy is
    /// needed when some written key has none (or nothing is written).
    private func policiesHold(
        _ transaction: EndorserTransaction, chaincodePolicy: EndorsementPolicy, signers: [PolicySigner], reader: any StateReader, overlay: BlockOverlay
    ) throws -> Bool {
        var needsChaincodePolicy = true
        var sawWrite = false
        var allWritesHaveKeyPolicy = true
        for (namespace, set) in transaction.readWriteSets {
            let keys = Set(set.writes.map(\.key)).union(set.metadataWrites.map(\.key))
            for key in keys {
                sawWrite = true
                guard let policyBytes = try overlay.metadata(namespace, key, reader: reader)?[StateMetadataName.validationParameter] else {
                    allWritesHaveKeyPolicy = false
                    continue
                }
                guard let policy = try? EndorsementPolicy.parse(String(decoding: policyBytes, as: UTF8.self)),
                    policy.isSatisfied(by: signers)
                else { return false }
            }
        }
        if sawWrite, allWritesHaveKeyPolicy { needsChaincodePolicy = false }
        return !needsChaincodePolicy || chaincodePolicy.isSatisfied(by: signers)
    }

    /// MVCC: every read's version must still be the current one; every range query must return
    /// the same keys and versions now.
    private func readConflict(_ transaction: EndorserTransaction, reader: any StateReader, overlay: BlockOverlay) throws -> Protos_TxValidationCode? {
        for (namespace, set) in transaction.readWriteSets {
            for read in set.reads {
                let current = try overlay.version(namespace, read.key, reader: reader)
                let expected = read.hasVersion ? StateVersion(blockNumber: read.version.blockNum, transactionNumber: UInt32(read.version.txNum)) : nil
                if current != expected { return .mvccReadConflict }
            }
            for query in set.rangeQueriesInfo {
                let now = try overlay.range(namespace, start: query.startKey, end: query.endKey, count: query.rawReads.kvReads.count, exhausted: query.itrExhausted, reader: reader)
                let then = query.rawReads.kvReads.map { ($0.key, StateVersion(blockNumber: $0.version.blockNum, transactionNumber: UInt32($0.version.txNum))) }
                if now.count != then.count || zip(now, then).contains(where: { $0.0 != $1.0 || $0.1 != $1.1 }) { return .phantomReadConflict }
            }
        }
        return nil
    }
}

/// The writes of the block's earlier valid transactions, seen through before the committed state.
struct BlockOverlay {
    let blockNumber: UInt64
    private var values: [StateUpdateBatch.Key: StateVersion?] = [:]
    private var metadata: [StateUpdateBatch.Key: [String: [UInt8]]] = [:]

    init(blockNumber: UInt64) { self.blockNumber = blockNumber }

    func version(_ namespace: String, _ key: String, reader: any StateReader) throws -> StateVersion? {
        if let written = values[StateUpdateBatch.Key(namespace: namespace, key: key)] { return written }
        return try reader.get(namespace: namespace, key: key)?.version
    }

    func metadata(_ namespace: String, _ key: String, reader: any StateReader) throws -> [String: [UInt8]]? {
        let id = StateUpdateBatch.Key(namespace: namespace, key: key)
        if let written = metadata[id] { return written }
        if let written = values[id], written == nil { return nil }
        return try reader.get(namespace: namespace, key: key)?.metadata
    }

    /// The keys and versions a range query would return now (committed state merged with the
    /// block's earlier writes), as far as the original query read.
    func range(_ namespace: String, start: String, end: String, count: Int, exhausted: Bool, reader: any StateReader) throws -> [(String, StateVersion)] {
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

    mutating func apply(_ transaction: EndorserTransaction, transactionNumber: UInt32) {
        let version = StateVersion(blockNumber: blockNumber, transactionNumber: transactionNumber)
        for (namespace, set) in transaction.readWriteSets {
            for write in set.writes {
                let id = StateUpdateBatch.Key(namespace: namespace, key: write.key)
                values[id] = write.isDelete ? .some(nil) : .some(version)
                if write.isDelete { metadata[id] = [:] }
            }
            for write in set.metadataWrites {
                metadata[StateUpdateBatch.Key(namespace: namespace, key: write.key)] =
                    Dictionary(write.entries.map { ($0.name, Array($0.value)) }, uniquingKeysWith: { _, last in last })
            }
        }
    }
}
