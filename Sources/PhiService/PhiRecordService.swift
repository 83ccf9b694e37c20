import Chaincode
import Crypto
import Endorser
import Foundation
import GRPCCore
import HealthChaincodes
import Identity
import LedgerCore
import LedgerWire
import Logging
import NetworkConfig
import OffChainStore
import PostgresNIO
import SwiftProtobuf
import WorldState
import Committer
import GatewayService
import NodeClients

/// The peer's off-chain PHI service (`medrex.PhiRecords`): it keeps its organization's records
/// encrypted in an `OffChainStore` and releases one only to the creator of a committed, VALID
/// `access request` transaction that granted it. It never signs a transaction on a person's
/// behalf: the anchor and the access request are the client's own transactions; the peer signs
/// only the audit entries of integrity failures it finds.
///
/// Nothing here logs, returns or counts PHI: errors and logs name record ids, versions, txids and
/// reason codes only.
package final class PhiRecordService: Sendable {
    package struct Settings: Sendable {
        /// The channel whose `phi`, `access` and `audit` chaincodes govern the records.
        package var channelID: String
        /// A pending version whose anchor has not committed VALID after this long is removed.
        package var pendingTimeout: Duration
        /// How long after its timestamp a granting `access request` transaction may be redeemed.
        package var grantValidity: TimeInterval
        /// Largest accepted difference between a request's timestamp and the peer's clock.
        package var requestSkew: TimeInterval = Limits.proposalTimestampSkewDefault
        /// Wrapped keys per re-wrap batch (one on-chain `rewrapped` entry each).
        package var rewrapBatchSize = 200
        /// At most this many data keys re-wrapped per second.
        package var rewrapKeysPerSecond = 1_000
        /// How often the background jobs look for work (key versions to re-wrap from, erasures to
        /// carry out).
        package var jobInterval: Duration = .seconds(5)
        /// How often the custodian's retention rules are enforced (a scan of every anchor).
        package var retentionInterval: Duration = .seconds(3600)

        package init(channelID: String, pendingTimeout: Duration = .seconds(600), grantValidity: TimeInterval = 300) {
            self.channelID = channelID
            self.pendingTimeout = pendingTimeout
            self.grantValidity = grantValidity
        }
    }

    /// What the service uses of the peer: its channel's ledger and gateway as of now.
    package struct Channel: Sendable {
        let blocks: ChannelBlocks
        let notifier: CommitNotifier
        let gateway: Gateway

        package init(blocks: ChannelBlocks, notifier: CommitNotifier, gateway: Gateway) {
            self.blocks = blocks
            self.notifier = notifier
            self.gateway = gateway
        }
    }

    package let settings: Settings
    package let store: any OffChainStore
    package let custodian: RecordCustodian
    /// The peer's organization: the custodian of the records it stores.
    package let mspID: String
    /// The peer's own identity, for the audit entries of integrity failures.
    package let signer: SigningIdentity
    package let channel: @Sendable () -> Channel?
    package let metrics: PeerMetrics
    package let logger: Logger

    package init(
        settings: Settings, store: any OffChainStore, custodian: RecordCustodian, mspID: String, signer: SigningIdentity,
        metrics: PeerMetrics, logger: Logger, channel: @escaping @Sendable () -> Channel?
    ) {
        self.settings = settings
        self.store = store
        self.custodian = custodian
        self.mspID = mspID
        self.signer = signer
        self.metrics = metrics
        self.logger = logger
        self.channel = channel
    }

    // MARK: - Requests

    /// Checks a request's signature, identity and timestamp; returns it with its requester.
    package func authenticate(_ signed: Medrex_SignedPhiRequest, now: Date) throws -> (Medrex_PhiRequest, ValidatedIdentity, Channel) {
        let request: Medrex_PhiRequest
        do {
            request = try Medrex_PhiRequest(serializedBytes: signed.request)
        } catch {
            throw PhiServiceError(.invalidRequest, "malformed PHI request: \(error)")
        }
        guard request.channelID == settings.channelID, let channel = channel() else {
            throw PhiServiceError(.notFound, "this peer keeps PHI records for channel '\(settings.channelID)', not '\(request.channelID)'")
        }
        let requester: ValidatedIdentity
        do {
            requester = try channel.blocks.membership.verify(signature: signed.signature, over: signed.request, by: request.identity, at: now)
        } catch {
            throw PhiServiceError(.accessDenied, "PHI request refused: \(error.reason)")
        }
        guard channel.blocks.readers.isSatisfied(by: [requester.policySigner]) else {
            throw PhiServiceError(.accessDenied, "PHI request refused: the requester is not a member of channel \(request.channelID)")
        }
        guard abs(request.timestamp.instant.timeIntervalSince(now)) <= settings.requestSkew else {
            throw PhiServiceError(.accessDenied, "PHI request refused: its timestamp is more than \(Int(settings.requestSkew)) s from the peer's clock")
        }
        return (request, requester, channel)
    }

    /// Put: checks the record and the client's anchor proposal against each other, stores the
    /// sealed version (pending), endorses the anchor and returns the transaction to sign.
    package func put(_ put: Medrex_PhiPut, identity: Data, channel: Channel, now: Date) async throws -> Medrex_PhiPutResponse {
        let resource: FHIRResource
        do {
            resource = try FHIRResource(json: put.record)
        } catch {
            throw PhiServiceError(.invalidRequest, error.reason)
        }
        let (proposal, anchor) = try ownPhiProposal(
            put.anchorProposal, function: "anchor", argument: PhiAnchorRequest.self, identity: identity, channel: channel, now: now)
        do throws(OffChainStoreError) {
            try resource.requirePatient(anchor.patient)
        } catch {
            throw PhiServiceError(.invalidRequest, "the anchor's patient \(anchor.patient) is not the patient the record names: \(error.reason)")
        }
        guard anchor.recordID == resource.id else {
            throw PhiServiceError(.invalidRequest, "the anchor names record '\(anchor.recordID)', the resource's id is '\(resource.id)'")
        }
        guard anchor.sha256 == resource.digestHex else {
            throw PhiServiceError(.invalidRequest, "the anchor's sha256 is not the SHA-256 of the record's canonical form")
        }
        guard anchor.custodian == mspID else {
            throw PhiServiceError(.preconditionFailed, "this peer keeps records of \(mspID); the anchor names custodian \(anchor.custodian)")
        }
        guard anchor.cipher == RecordAlgorithm.aes256GCM.rawValue, anchor.keyWrap == KeyWrapAlgorithm.hpkeP256SHA256AES256GCM.rawValue else {
            throw PhiServiceError(
                .invalidRequest,
                "the anchor must name cipher \(RecordAlgorithm.aes256GCM.rawValue) and key wrap \(KeyWrapAlgorithm.hpkeP256SHA256AES256GCM.rawValue)")
        }
        try await storePending(resource, version: anchor.version)
        let (transaction, result) = try await channel.gateway.endorse(put.anchorProposal, channelID: settings.channelID)
        guard result.status < 400 else {
            throw PhiServiceError(.accessDenied, "the phi chaincode refused the anchor (\(result.status)): \(result.message)")
        }
        watchAnchor(transactionID: proposal.transactionID, recordID: resource.id, version: anchor.version, channel: channel)
        metrics.countPhiRequest(operation: "put", outcome: "endorsed")
        var response = Medrex_PhiPutResponse()
        response.transactionID = proposal.transactionID
        response.preparedTransaction = transaction
        return response
    }

    /// Checks a proposal the requester made for the `phi` chaincode (`phi FUNCTION JSON`): a valid
    /// proposal of this channel, created by the requester, calling `function` with one JSON
    /// argument of type `Argument`. Returns it with the decoded argument.
    func ownPhiProposal<Argument: Decodable>(
        _ signed: Protos_SignedProposal, function: String, argument: Argument.Type, identity: Data, channel: Channel, now: Date
    ) throws -> (CheckedProposal, Argument) {
        let checker = ProposalChecker(membership: channel.blocks.membership, channels: [settings.channelID])
        let proposal: CheckedProposal
        do {
            proposal = try checker.check(signed, now: now)
        } catch {
            throw PhiServiceError(.invalidRequest, "\(function) proposal refused: \(error.reason)")
        }
        guard proposal.signatureHeader.creator == identity else {
            throw PhiServiceError(.accessDenied, "the \(function) proposal's creator is not the requester")
        }
        guard proposal.chaincodeName == PhiContract.name, proposal.arguments.count == 2, proposal.arguments[0] == Data(function.utf8),
            let decoded = try? JSONDecoder().decode(Argument.self, from: proposal.arguments[1])
        else {
            throw PhiServiceError(.invalidRequest, "the proposal does not invoke `\(PhiContract.name) \(function) JSON`")
        }
        return (proposal, decoded)
    }

    /// Stores the sealed version, pending; a retry of a pending version with the same content is
    /// accepted (its anchor may not have been submitted the first time).
    private func storePending(_ resource: FHIRResource, version: UInt32) async throws {
        do {
            try await store.put(try custodian.seal(resource.canonical, recordID: resource.id, version: version))
        } catch where error.code == .versionExists {
            guard let stored = try? await store.get(recordID: resource.id, version: version), stored.state == .pending,
                stored.encrypted.sealed.plaintextDigest == resource.digest
            else {
                throw PhiServiceError(.versionExists, "record '\(resource.id)' version \(version) is stored already; versions are immutable")
            }
        } catch {
            throw PhiServiceError(error.code == .invalidArgument ? .invalidRequest : .storeUnavailable, error.reason)
        }
    }

    /// Marks the version anchored once its anchor commits VALID (gives up after the pending
    /// timeout; the sweeper then decides from the chain).
    private func watchAnchor(transactionID: String, recordID: String, version: UInt32, channel: Channel) {
        let store = self.store
        let logger = self.logger
        let timeout = settings.pendingTimeout
        Task {
            guard let outcome = await Self.outcome(of: transactionID, notifier: channel.notifier, timeout: timeout), outcome.validationCode == .valid else {
                return
            }
            do {
                try await store.markAnchored(recordID: recordID, version: version)
            } catch {
                logger.error("could not mark a record version anchored", metadata: ["record": "\(recordID)", "version": "\(version)", "error": "\(error)"])
            }
        }
    }

    package static func outcome(of transactionID: String, notifier: CommitNotifier, timeout: Duration) async -> CommitOutcome? {
        await withTaskGroup(of: CommitOutcome??.self) { group in
            group.addTask { (try? await notifier.outcome(of: transactionID)) ?? nil }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .some(nil)
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? nil
        }
    }

    /// Get: redeems a committed grant. The record is opened and checked against its anchor here,
    /// then released sealed, with its data key re-wrapped for the requester's certificate key.
    package func get(_ get: Medrex_PhiGet, requester: ValidatedIdentity, identity: Data, channel: Channel, now: Date) async throws -> Medrex_PhiGetResponse {
        let txID = get.accessTransactionID
        guard !txID.isEmpty, txID.count <= 128 else { throw PhiServiceError(.invalidRequest, "no access transaction id") }
        // The client waited for the commit on its gateway peer; this peer may be a moment behind.
        guard let outcome = await Self.outcome(of: txID, notifier: channel.notifier, timeout: .seconds(10)) else {
            throw PhiServiceError(.notFound, "access transaction \(txID) is not committed on this peer")
        }
        guard outcome.validationCode == .valid else {
            throw PhiServiceError(.preconditionFailed, "access transaction \(txID) committed as \(outcome.validationCode.name), not VALID")
        }
        let decision = try committedDecision(txID, outcome: outcome, identity: identity, channel: channel, now: now)
        guard decision.granted else {
            metrics.countPhiRequest(operation: "get", outcome: "denied")
            throw PhiServiceError(.accessDenied, "access denied (\(decision.reason)); the request is in the audit trail")
        }
        let anchor = try committedAnchor(recordID: decision.recordID, version: decision.version, channel: channel)
        guard anchor.custodian == mspID else {
            throw PhiServiceError(.preconditionFailed, "record '\(anchor.recordID)' is kept by \(anchor.custodian); ask one of its peers")
        }
        if let erasure = try committedErasure(recordID: anchor.recordID, version: anchor.version, channel: channel) {
            metrics.countPhiRequest(operation: "get", outcome: "erased")
            throw PhiServiceError(.erased, Self.erasedMessage(erasure))
        }
        guard let digest = [UInt8](hexString: anchor.sha256).map({ Data($0) }) else {
            throw PhiServiceError(.integrityFailure, "the anchor of record '\(anchor.recordID)' version \(anchor.version) holds no SHA-256")
        }
        let requesterKey: RecipientKey
        do {
            requesterKey = RecipientKey(publicKey: try P256.KeyAgreement.PublicKey(rawRepresentation: requester.publicKey.rawRepresentation))
        } catch {
            throw PhiServiceError(.invalidRequest, "the requester's certificate key is not a P-256 key")
        }
        let released: (sealed: SealedRecord, wrappedKey: WrappedKey)
        do {
            released = try await store.release(
                recordID: anchor.recordID, version: anchor.version, anchoredDigest: digest, custodian: custodian, to: requesterKey)
        } catch {
            throw await integrityFailure(error, anchor: anchor, channel: channel)
        }
        try? await store.markAnchored(recordID: anchor.recordID, version: anchor.version)
        metrics.countPhiRequest(operation: "get", outcome: "released")
        var response = Medrex_PhiGetResponse()
        response.recordID = anchor.recordID
        response.version = anchor.version
        response.sha256 = anchor.sha256
        response.ciphertext = released.sealed.ciphertext
        response.nonce = released.sealed.nonce
        response.wrappedKeyEncapsulation = released.wrappedKey.encapsulatedKey
        response.wrappedKeyCiphertext = released.wrappedKey.ciphertext
        response.cipher = released.sealed.algorithm.rawValue
        response.keyWrap = released.wrappedKey.algorithm.rawValue
        return response
    }

    /// The decision of a committed `access request` transaction of this requester, still fresh.
    private func committedDecision(_ txID: String, outcome: CommitOutcome, identity: Data, channel: Channel, now: Date) throws -> AccessDecision {
        guard let block = try channel.blocks.ledger.blockStore.block(number: outcome.blockNumber),
            let location = try channel.blocks.ledger.blockStore.transactionLocation(txID),
            block.data.data.indices.contains(Int(location.transactionNumber))
        else {
            throw PhiServiceError(.notFound, "access transaction \(txID) is not in this peer's ledger")
        }
        let envelope = try TransactionEnvelope(serialized: block.data.data[Int(location.transactionNumber)])
        guard envelope.signatureHeader.creator == identity else {
            throw PhiServiceError(.accessDenied, "access transaction \(txID) was made by another identity than the requester")
        }
        // The grant's age counts from the block's ordering time (signed by the orderer), not from
        // the client's timestamp; a grant dated in the future beyond the skew is refused too.
        let granted = block.orderingTime ?? envelope.channelHeader.timestamp.instant
        let age = now.timeIntervalSince(granted)
        guard age <= settings.grantValidity, age >= -settings.requestSkew else {
            throw PhiServiceError(
                .accessDenied,
                "access transaction \(txID) was granted outside the last \(Int(settings.grantValidity)) s; request access again")
        }
        let action = try EndorserTransaction(payloadData: envelope.payload.data).chaincodeAction
        guard action.chaincodeID.name == AccessContract.name,
            let decision = try? JSONDecoder().decode(AccessDecision.self, from: action.response.payload)
        else {
            throw PhiServiceError(.invalidRequest, "transaction \(txID) is not an `\(AccessContract.name) request`")
        }
        return decision
    }

    /// The anchor of a record version in the committed world state.
    private func committedAnchor(recordID: String, version: UInt32, channel: Channel) throws -> PhiAnchor {
        let reader = try channel.blocks.ledger.state.makeReader()
        guard let value = try reader.get(namespace: PhiContract.name, key: try PhiContract.anchorKey(recordID: recordID, version: version)),
            let anchor = try? JSONDecoder().decode(PhiAnchor.self, from: Data(value.value))
        else {
            throw PhiServiceError(.notFound, "record '\(recordID)' version \(version) has no anchor on channel \(settings.channelID)")
        }
        return anchor
    }

    /// The erasure entry of a record version in the committed world state, if it was erased.
    func committedErasure(recordID: String, version: UInt32, channel: Channel) throws -> ErasureEntry? {
        let reader = try channel.blocks.ledger.state.makeReader()
        guard let value = try reader.get(namespace: PhiContract.name, key: try PhiContract.erasureKey(recordID: recordID, version: version)) else {
            return nil
        }
        guard let entry = try? JSONDecoder().decode(ErasureEntry.self, from: Data(value.value)) else {
            throw PhiServiceError(.integrityFailure, "the erasure entry of record '\(recordID)' version \(version) cannot be decoded")
        }
        return entry
    }

    /// What a read of an erased version answers: the erasure entry (ids and codes only).
    static func erasedMessage(_ erasure: ErasureEntry) -> String {
        "record '\(erasure.recordID)' version \(erasure.version) was erased at \(erasure.erasedAt) by \(erasure.erasedBy) "
            + "(reason \(erasure.reason), txid \(erasure.txID)); its anchor sha256 \(erasure.sha256) stays on the chain"
    }

    /// Reports an integrity failure (audited on the chain by this peer) as the error to return.
    private func integrityFailure(_ error: OffChainStoreError, anchor: PhiAnchor, channel: Channel) async -> PhiServiceError {
        guard error.isIntegrityFailure || error.code == .notFound || error.code == .wrongKey else {
            return PhiServiceError(.storeUnavailable, "the off-chain store failed: \(error.reason)")
        }
        let reason = error.code == .notFound ? "ciphertext-missing" : "ciphertext-mismatch"
        logger.error("PHI integrity failure", metadata: ["record": "\(anchor.recordID)", "version": "\(anchor.version)", "reason": "\(reason)"])
        metrics.countPhiRequest(operation: "integrity", outcome: reason)
        await auditIntegrityFailure(anchor: anchor, reason: reason, channel: channel)
        return PhiServiceError(
            .integrityFailure,
            "integrity error: record '\(anchor.recordID)' version \(anchor.version) does not match its anchor (\(reason)); recorded in the audit trail")
    }

    /// Submits an `audit append` of an integrity failure, signed by this peer, and waits for it.
    package func auditIntegrityFailure(anchor: PhiAnchor, reason: String, channel: Channel) async {
        let entry = AuditRequest(
            patient: anchor.patient, action: "integrity-check", recordID: anchor.recordID, version: anchor.version, decision: "denied",
            reason: reason)
        do {
            let json = String(decoding: try JSONEncoder().encode(entry), as: UTF8.self)
            let proposal = try ProposalFactory.make(
                channel: settings.channelID, chaincode: AuditContract.name, arguments: ["append", json], signer: signer, timestamp: Date())
            var (envelope, _) = try await channel.gateway.endorse(proposal, channelID: settings.channelID)
            envelope.signature = Data(try signer.sign(envelope.payload))
            try await channel.gateway.submit(envelope, channelID: settings.channelID)
            let txID = try GatewayClient.transactionID(of: proposal)
            let outcome = await Self.outcome(of: txID, notifier: channel.notifier, timeout: .seconds(30))
            if outcome?.validationCode != .valid {
                logger.error("the audit entry of an integrity failure did not commit", metadata: ["record": "\(anchor.recordID)", "txid": "\(txID)"])
            }
        } catch {
            logger.error("could not audit an integrity failure", metadata: ["record": "\(anchor.recordID)", "error": "\(error)"])
        }
    }

    /// Verify: each version's stored bytes against its anchor. Operators of the custodian and
    /// auditors may ask; failures are audited.
    package func verify(_ verify: Medrex_PhiVerify, requester: ValidatedIdentity, channel: Channel) async throws -> Medrex_PhiVerifyResponse {
        let role = requester.attributes["role"]
        guard role == "auditor" || (role == "operator" && requester.mspID == mspID) else {
            throw PhiServiceError(.accessDenied, "only an auditor or an operator of \(mspID) may verify records")
        }
        var anchors: [PhiAnchor] = []
        if !verify.recordID.isEmpty {
            anchors = [try committedAnchor(recordID: verify.recordID, version: verify.version, channel: channel)]
        } else if !verify.patient.isEmpty {
            anchors = try patientAnchors(verify.patient, channel: channel)
        } else {
            throw PhiServiceError(.invalidRequest, "name a record (record id and version) or a patient")
        }
        var response = Medrex_PhiVerifyResponse()
        for anchor in anchors where anchor.custodian == mspID {
            var result = Medrex_PhiVerification()
            result.recordID = anchor.recordID
            result.version = anchor.version
            if try committedErasure(recordID: anchor.recordID, version: anchor.version, channel: channel) != nil {
                // Erased on the chain: its bytes are gone on purpose (and destroyed now if a
                // peer had not yet), which is not tampering.
                _ = try? await store.erase([RecordVersionID(recordID: anchor.recordID, version: anchor.version)])
                result.status = .erased
                response.results.append(result)
                continue
            }
            do {
                guard let digest = [UInt8](hexString: anchor.sha256).map({ Data($0) }) else { throw OffChainStoreError(.digestMismatch, "anchor holds no SHA-256") }
                try await store.verify(recordID: anchor.recordID, version: anchor.version, expectedDigest: digest, custodian: custodian)
                result.status = .intact
            } catch let error as OffChainStoreError where error.isIntegrityFailure || error.code == .notFound || error.code == .wrongKey {
                result.status = error.code == .notFound ? .missing : .tampered
                _ = await integrityFailure(error, anchor: anchor, channel: channel)
            }
            response.results.append(result)
        }
        return response
    }

    /// Every anchored version of the patient's records, from the committed world state.
    private func patientAnchors(_ patient: String, channel: Channel) throws -> [PhiAnchor] {
        let reader = try channel.blocks.ledger.state.makeReader()
        let records = try reader.partialCompositeKey(
            namespace: PhiContract.name, objectType: PhiContract.patientRecordObjectType, attributes: [patient], pageSize: 10_000)
        var anchors: [PhiAnchor] = []
        for entry in records.entries {
            // Written by the phi contract as [patient, recordID]; a shorter key is skipped, not indexed past its end.
            let attributes = try CompositeKey.split(entry.key).attributes
            guard attributes.count > 1 else { continue }
            let recordID = attributes[1]
            let versions = try reader.partialCompositeKey(
                namespace: PhiContract.name, objectType: PhiContract.anchorObjectType, attributes: [recordID], pageSize: 10_000)
            anchors += versions.entries.compactMap { try? JSONDecoder().decode(PhiAnchor.self, from: Data($0.value.value)) }
        }
        return anchors
    }

    // MARK: - Pending versions

    /// Runs until cancelled: every so often, marks pending versions whose anchors committed and
    /// removes those older than the pending timeout whose anchors never did.
    package func sweepPending() async {
        let interval = min(settings.pendingTimeout / 2, .seconds(60))
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled, let channel = channel() else { continue }
            let cutoff = Date().addingTimeInterval(-Double(settings.pendingTimeout.components.seconds))
            do {
                for id in try await store.pendingVersions(createdBefore: cutoff) {
                    if let anchor = try? committedAnchor(recordID: id.recordID, version: id.version, channel: channel),
                        let stored = try await store.get(recordID: id.recordID, version: id.version),
                        [UInt8](hexString: anchor.sha256) == Array(stored.encrypted.sealed.plaintextDigest)
                    {
                        try await store.markAnchored(recordID: id.recordID, version: id.version)
                    }
                }
                let removed = try await store.deletePending(createdBefore: cutoff)
                if removed > 0 { logger.notice("removed record versions whose anchors never committed", metadata: ["count": "\(removed)"]) }
            } catch {
                logger.error("sweeping pending record versions failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Why the PHI service refused or failed a request. Reasons name record ids, versions and
/// transaction ids, never PHI. The gRPC adapter (`PhiRecordsRPCService`) maps the codes to statuses.
package typealias PhiServiceError = DomainError<PhiServiceErrorCode>

/// The codes of `PhiServiceError`.
package enum PhiServiceErrorCode: String, DomainErrorCode {
    /// The request is malformed or names something inconsistent (INVALID_ARGUMENT).
    case invalidRequest
    /// No such record, anchor, channel or access transaction here (NOT_FOUND).
    case notFound
    /// The requester may not do this (PERMISSION_DENIED).
    case accessDenied
    /// The request cannot be served in this state: another custodian, a transaction not VALID (FAILED_PRECONDITION).
    case preconditionFailed
    /// The record version is stored already; versions are immutable (ALREADY_EXISTS).
    case versionExists
    /// The off-chain store failed (UNAVAILABLE).
    case storeUnavailable
    /// The stored record does not match its anchor; audited on the chain (DATA_LOSS).
    case integrityFailure
    /// The record version was erased; the message carries its on-chain erasure entry (NOT_FOUND).
    case erased
    /// The custodian key cannot be used: its token is unreachable or refuses (UNAVAILABLE).
    case keyUnavailable
}

/// The gRPC face of `PhiRecordService`.
package struct PhiRecordsRPCService: Medrex_PhiRecords.SimpleServiceProtocol {
    package let service: PhiRecordService

    package init(service: PhiRecordService) { self.service = service }

    package func put(request: Medrex_SignedPhiRequest, context: ServerContext) async throws -> Medrex_PhiPutResponse {
        let now = Date()
        let (request, _, channel) = try mapped { try service.authenticate(request, now: now) }
        guard case .put(let put) = request.body else { throw RPCError(code: .invalidArgument, message: "Put expects a put request") }
        return try await mapped { try await service.put(put, identity: request.identity, channel: channel, now: now) }
    }

    package func get(request: Medrex_SignedPhiRequest, context: ServerContext) async throws -> Medrex_PhiGetResponse {
        let now = Date()
        let (request, requester, channel) = try mapped { try service.authenticate(request, now: now) }
        guard case .get(let get) = request.body else { throw RPCError(code: .invalidArgument, message: "Get expects a get request") }
        return try await mapped { try await service.get(get, requester: requester, identity: request.identity, channel: channel, now: now) }
    }

    package func verify(request: Medrex_SignedPhiRequest, context: ServerContext) async throws -> Medrex_PhiVerifyResponse {
        let (request, requester, channel) = try mapped { try service.authenticate(request, now: Date()) }
        guard case .verify(let verify) = request.body else { throw RPCError(code: .invalidArgument, message: "Verify expects a verify request") }
        return try await mapped { try await service.verify(verify, requester: requester, channel: channel) }
    }

    package func keys(request: Medrex_SignedPhiRequest, context: ServerContext) async throws -> Medrex_PhiKeysResponse {
        let (request, requester, channel) = try mapped { try service.authenticate(request, now: Date()) }
        guard case .keys(let keys) = request.body else { throw RPCError(code: .invalidArgument, message: "Keys expects a keys request") }
        return try await mapped { try await service.keys(keys, requester: requester, channel: channel) }
    }

    package func erase(request: Medrex_SignedPhiRequest, context: ServerContext) async throws -> Medrex_PhiEraseResponse {
        let now = Date()
        let (request, _, channel) = try mapped { try service.authenticate(request, now: now) }
        guard case .erase(let erase) = request.body else { throw RPCError(code: .invalidArgument, message: "Erase expects an erase request") }
        return try await mapped { try await service.erase(erase, identity: request.identity, channel: channel, now: now) }
    }

    /// The service's errors as gRPC statuses: the only place where PHI requests meet status codes.
    private func mapped<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw Self.status(of: error)
        }
    }

    private func mapped<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw Self.status(of: error)
        }
    }

    static func status(of error: any Error) -> RPCError {
        switch error {
        case let error as PhiServiceError:
            let code: RPCError.Code = switch error.code {
            case .invalidRequest: .invalidArgument
            case .notFound: .notFound
            case .accessDenied: .permissionDenied
            case .preconditionFailed: .failedPrecondition
            case .versionExists: .alreadyExists
            case .storeUnavailable: .unavailable
            case .integrityFailure: .dataLoss
            case .erased: .notFound
            case .keyUnavailable: .unavailable
            }
            return RPCError(code: code, message: error.reason)
        case let error as TransactionEnvelope.DecodingFailure:
            return RPCError(code: .invalidArgument, message: "malformed transaction: \(error.reason)")
        case let error as StorageError:
            return RPCError(code: .internalError, message: "ledger read failed: \(error)")
        default:
            return RPCError(gatewayError: error)
        }
    }
}

extension PhiRecordService {
    /// Opens the store `settings` names (the embedded one under `dataDirectory/phi`, or a
    /// PostgreSQL client that runs until `close`), loads or creates the custodian key, and
    /// returns the service with what closes its store.
    package static func open(
        settings: PhiSettings, dataDirectory: URL, mspID: String, signer: SigningIdentity, metrics: PeerMetrics, logger: Logger,
        channel: @escaping @Sendable () -> Channel?
    ) async throws -> (service: PhiRecordService, close: @Sendable () async -> Void) {
        let directory = dataDirectory.appendingPathComponent("phi")
        let store: any OffChainStore
        let close: @Sendable () async -> Void
        switch settings.store {
        case .embedded:
            let embedded = try EmbeddedOffChainStore(directory: directory.appendingPathComponent("store"))
            store = embedded
            close = { try? embedded.close() }
        case .postgres(let postgres):
            let tls = try PostgresTLS(
                rootCAs: postgres.tls.rootCAs, clientCertificate: postgres.tls.certificate, clientPrivateKey: postgres.tls.privateKey
            ).configuration()
            var configuration = PostgresClient.Configuration(
                host: postgres.host, port: postgres.port, username: postgres.user,
                password: ProcessInfo.processInfo.environment["MEDREX_PHI_POSTGRES_PASSWORD"], database: postgres.database, tls: .require(tls))
            configuration.options.maximumConnections = 16
            let client = PostgresClient(configuration: configuration)
            let task = Task { await client.run() }
            do {
                store = try await PostgresOffChainStore.open(client: client)
            } catch {
                task.cancel()
                throw error
            }
            close = {
                task.cancel()
                _ = await task.value
            }
        }
        let keyring: CustodianKeyring
        do {
            keyring = try await custodianKeyring(settings, directory: directory, store: store)
        } catch {
            await close()
            throw error
        }
        var serviceSettings = Settings(
            channelID: settings.channel, pendingTimeout: .seconds(settings.pendingTimeoutSeconds),
            grantValidity: TimeInterval(settings.grantValiditySeconds))
        serviceSettings.rewrapBatchSize = settings.rewrap.batchSize
        serviceSettings.rewrapKeysPerSecond = settings.rewrap.keysPerSecond
        let service = PhiRecordService(
            settings: serviceSettings, store: store, custodian: RecordCustodian(keyring: keyring), mspID: mspID, signer: signer, metrics: metrics,
            logger: logger, channel: channel)
        return (service, close)
    }

    /// The custodian's key versions: in the PKCS#11 token `phi.hsm` names, or in PEM files
    /// beginning with `phi.custodianKey` (by default `phi/custodian-key.pem`, created on the first
    /// start). An empty token gets version 1 from the first of the organization's peers to start
    /// (under a lease in the shared store, so two peers starting at once do not both make one).
    package static func custodianKeyring(_ settings: PhiSettings, directory: URL, store: any OffChainStore) async throws -> CustodianKeyring {
        do {
            if let hsm = settings.hsm {
                let keys = PKCS11CustodianKeys(
                    token: try PKCS11Token(library: hsm.library, tokenLabel: hsm.token, pin: try hsmPIN(hsm)), label: hsm.keyLabel)
                if try keys.versions().isEmpty {
                    let holder = UUID().uuidString
                    let deadline = ContinuousClock.now + .seconds(60)
                    while try !(await store.acquireLease("custodian-key-init", holder: holder, for: 30)) {
                        guard ContinuousClock.now < deadline else {
                            throw OffChainStoreError(.keyUnavailable, "another peer holds the key-initialization lease of \(keys.location)")
                        }
                        try await Task.sleep(for: .milliseconds(500))
                    }
                    if try keys.versions().isEmpty { _ = try keys.create(version: 1) }
                }
                return try CustodianKeyring(store: keys, createFirst: false)
            }
            if let configured = settings.custodianKey, !FileManager.default.fileExists(atPath: configured.path) {
                throw ConfigError(.unreadable, file: configured.path, line: nil, field: "phi.custodianKey", reason: "cannot read the custodian key")
            }
            let first = settings.custodianKey ?? directory.appendingPathComponent("custodian-key.pem")
            return try CustodianKeyring(store: FileCustodianKeys(first: first), createFirst: settings.custodianKey == nil)
        } catch let error as OffChainStoreError {
            throw ConfigError(.invalidValue, file: "peer.yaml", line: nil, field: settings.hsm != nil ? "phi.hsm" : "phi.custodianKey", reason: error.reason)
        }
    }

    /// The token's user PIN: `pinFile` (first line), else MEDREX_PHI_HSM_PIN.
    package static func hsmPIN(_ hsm: PhiSettings.HSM) throws -> String {
        if let file = hsm.pinFile {
            guard let text = try? String(contentsOf: file, encoding: .utf8),
                let pin = text.split(whereSeparator: \.isNewline).first.map(String.init), !pin.isEmpty
            else {
                throw ConfigError(.unreadable, file: file.path, line: nil, field: "phi.hsm.pinFile", reason: "cannot read the PKCS#11 PIN")
            }
            return pin
        }
        guard let pin = ProcessInfo.processInfo.environment["MEDREX_PHI_HSM_PIN"], !pin.isEmpty else {
            throw ConfigError(
                .missingField, file: "peer.yaml", line: nil, field: "phi.hsm.pinFile", reason: "give pinFile or set MEDREX_PHI_HSM_PIN")
        }
        return pin
    }
}
