import BlockIntegrity
import Endorser
import Foundation
import GRPCCore
import Identity
import LedgerCore
import LedgerWire
import Logging
import RPCTransport
import SwiftProtobuf
import WorldState
import Committer
import NodeClients

/// Why the gateway refused or failed a request; `RPCError(gatewayError:)` in the service adapters
/// maps the codes to gRPC statuses.
package typealias GatewayError = DomainError<GatewayErrorCode>

/// The codes of `GatewayError`.
package enum GatewayErrorCode: String, DomainErrorCode {
    /// The channel is not joined by this peer (NOT_FOUND).
    case unknownChannel
    /// An endorser refused the proposal, or the chaincode answered with an error (ABORTED).
    case endorsementRefused
    /// The endorsements gathered do not satisfy the policies (FAILED_PRECONDITION).
    case policyNotSatisfied
    /// The transaction does not decode or is not bound to its proposal (INVALID_ARGUMENT).
    case malformedTransaction
    /// Early abort: a read is already stale, so the transaction was not ordered (ABORTED, message
    /// starting with `GatewayClient.earlyAbortMessagePrefix`).
    case staleRead
    /// The requester may not ask this (PERMISSION_DENIED).
    case accessDenied
    /// The caller stopped waiting (CANCELLED).
    case stoppedWaiting
    /// The peer is stopping (UNAVAILABLE).
    case peerStopping
}

/// What the gateway knows of one channel: where the other organizations' peers and the orderers
/// are, the policies a transaction must satisfy, and how to learn commit outcomes.
package struct GatewayChannel: Sendable {
    /// A peer of another organization (an anchor peer of the channel configuration).
    package struct RemotePeer: Sendable {
        package let mspID: String
        /// The gateway's shared connection to this peer's endorser (or, in tests and the
        /// simulation, the endorser itself in the same process).
        package let connection: any RemoteEndorser

        /// Where the peer is reached (nil for an endorser in the same process).
        package let endpoint: NodeAddress?

        package init(mspID: String, endpoint: NodeAddress, tls: MutualTLS) {
            self.init(mspID: mspID, endorser: EndorserConnection(endpoint: endpoint, tls: tls), endpoint: endpoint)
        }

        package init(mspID: String, endorser: any RemoteEndorser, endpoint: NodeAddress? = nil) {
            self.mspID = mspID
            connection = endorser
            self.endpoint = endpoint
        }
    }

    package let remotePeers: [RemotePeer]
    /// Sends transactions to the channel's orderers (over the peer's shared Broadcast stream) and
    /// follows those whose ordering goes unconfirmed.
    package let submitter: TransactionSubmitter
    /// Answers which policies a transaction needs (the same rules validation applies).
    package let validator: BlockValidator
    package let state: any StateDatabase
    package let notifier: CommitNotifier
    package let blocks: ChannelBlocks
    /// Early abort of transactions with stale reads before ordering (peer.yaml `earlyAbort`); nil when off.
    package var precheck: ReadConflictPrecheck? = nil

    package init(remotePeers: [RemotePeer], submitter: TransactionSubmitter, validator: BlockValidator, state: any StateDatabase, notifier: CommitNotifier, blocks: ChannelBlocks, precheck: ReadConflictPrecheck? = nil) {
        self.remotePeers = remotePeers
        self.submitter = submitter
        self.validator = validator
        self.state = state
        self.notifier = notifier
        self.blocks = blocks
        self.precheck = precheck
    }
}

/// Fabric's Gateway service on a peer: a client sends one proposal; the gateway endorses it
/// locally, asks other organizations' peers until the chaincode policy and every key-level policy
/// of the written keys are satisfied, returns the transaction for the client to sign, sends it to
/// an orderer (trying each in turn) and reports its validation code once committed.
package struct Gateway: Sendable {
    package let endorser: EndorsementService
    package let channels: [String: GatewayChannel]
    /// Times the pauses and timestamps the signature checks.
    package let clock: any LedgerClock
    package let logger: Logger

    package init(endorser: EndorsementService, channels: [String: GatewayChannel], clock: any LedgerClock = SystemClock(), logger: Logger) {
        self.clock = clock
        self.endorser = endorser
        self.channels = channels
        self.logger = logger
    }

    private func channel(_ id: String) throws -> GatewayChannel {
        guard let channel = channels[id] else { throw GatewayError(.unknownChannel, "channel '\(id)' is not joined by this peer") }
        return channel
    }

    /// Runs the proposal on this peer only; nothing is ordered.
    package func evaluate(_ proposal: Protos_SignedProposal, channelID: String) throws -> Protos_Response {
        _ = try channel(channelID)
        let response = endorser.processProposal(proposal)
        guard response.response.status < 400 else {
            throw GatewayError(.endorsementRefused, "evaluation refused (\(response.response.status)): \(response.response.message)")
        }
        return response.response
    }

    /// Endorses until the policies hold; returns the unsigned transaction envelope and the
    /// chaincode's response.
    ///
    /// With `endorsingOrganizations` (Fabric's EndorseRequest field), exactly those organizations'
    /// peers endorse and the gateway does not require the policies to hold: the client completes
    /// the endorsements itself — a supervisor's co-signature (DESIGN §3) is added this way — and
    /// validation decides.
    package func endorse(
        _ proposal: Protos_SignedProposal, channelID: String, endorsingOrganizations: [String] = []
    ) async throws -> (transaction: Common_Envelope, result: Protos_Response) {
        let channel = try channel(channelID)
        // The txid matters only to early abort's bookkeeping of pending transactions.
        let transactionID = channel.precheck == nil ? nil : try? GatewayClient.transactionID(of: proposal)
        let local = try await freshLocalEndorsement(proposal, channel, transactionID: transactionID)
        let payload: Data
        do {
            payload = try await gatherEndorsements(proposal, local: local, channel: channel, endorsingOrganizations: Set(endorsingOrganizations))
        } catch {
            // No transaction for the client: its reservation (early abort) ends here.
            if let transactionID { channel.precheck?.finished(transactionID) }
            throw error
        }
        var envelope = Common_Envelope()
        envelope.payload = payload
        return (envelope, local.response.response)
    }

    /// This peer's endorsement, and the transaction it alone endorses, assembled and decoded once.
    private struct LocalEndorsement {
        let response: Protos_ProposalResponse
        let payload: Data
        let transaction: EndorserTransaction
    }

    /// The payload of the transaction: this peer's endorsement when it satisfies the policies
    /// (and no organizations were chosen), else this peer's (if chosen) and one of each other
    /// organization's.
    private func gatherEndorsements(
        _ proposal: Protos_SignedProposal, local: LocalEndorsement, channel: GatewayChannel, endorsingOrganizations chosen: Set<String>
    ) async throws -> Data {
        var responses = chosen.isEmpty || chosen.contains(endorser.signer.mspID) ? [local.response] : []
        if chosen.isEmpty, try policiesSatisfied(local.transaction, responses, channel) { return local.payload }
        let remotePeers = chosen.isEmpty ? channel.remotePeers : channel.remotePeers.filter { chosen.contains($0.mspID) }
        var problems: [String] = []
        for (peer, result) in await remoteEndorsements(proposal, from: remotePeers, matching: local.response.payload) {
            switch result {
            case .success(let response) where response.response.status < 400 && response.payload == local.response.payload:
                responses.append(response)
            case .success(let response) where response.response.status < 400:
                problems.append("\(peer): its result differs from this peer's")
            case .success(let response):
                problems.append("\(peer): refused (\(response.response.status)) \(response.response.message)")
            case .failure(let error):
                problems.append("\(peer): unreachable (\(error))")
            }
        }
        let detail = problems.isEmpty ? "" : ": " + problems.joined(separator: "; ")
        if !chosen.isEmpty {
            let endorsed = Set(try responses.map { try SerializedIdentity.mspID(of: $0.endorsement.endorser) })
            guard chosen.isSubset(of: endorsed) else {
                throw GatewayError(
                    .policyNotSatisfied,
                    "not every requested organization endorsed (\(chosen.subtracting(endorsed).sorted().joined(separator: ", ")))" + detail)
            }
        }
        let payload = try TransactionAssembler.payload(proposal: proposal, responses: responses)
        if chosen.isEmpty {
            let transaction = try EndorserTransaction(payloadData: try Common_Payload(serializedBytes: payload).data)
            guard try policiesSatisfied(transaction, responses, channel) else {
                throw GatewayError(.policyNotSatisfied, "the endorsements gathered do not satisfy the endorsement policies" + detail)
            }
        }
        return payload
    }

    /// One endorsement per organization: its peers are asked one at a time (from a random one,
    /// to spread the load) until one answers with `expected`, this peer's result. Every attempt
    /// is returned, labelled with the peer.
    private func remoteEndorsements(
        _ proposal: Protos_SignedProposal, from remotePeers: [GatewayChannel.RemotePeer], matching expected: Data
    ) async -> [(String, Result<Protos_ProposalResponse, any Error>)] {
        await withTaskGroup(of: [(String, Result<Protos_ProposalResponse, any Error>)].self) { group in
            for peers in Dictionary(grouping: remotePeers, by: \.mspID).values {
                group.addTask {
                    var attempts: [(String, Result<Protos_ProposalResponse, any Error>)] = []
                    let first = Int.random(in: 0..<peers.count)
                    for peer in peers[first...] + peers[..<first] {
                        let label = "\(peer.mspID) \(peer.connection)"
                        do {
                            var response = try await peer.connection.processProposal(proposal, timeout: Self.remoteEndorsementTimeout)
                            // A different result may come from a peer one block behind this one:
                            // it is asked again after a pause (twice at most).
                            for _ in 0..<Self.laggingPeerRetries where response.response.status < 400 && response.payload != expected {
                                try await clock.sleep(for: Self.laggingPeerPause)
                                response = try await peer.connection.processProposal(proposal, timeout: Self.remoteEndorsementTimeout)
                            }
                            attempts.append((label, .success(response)))
                            if response.response.status < 400 && response.payload == expected { break }
                        } catch {
                            attempts.append((label, .failure(error)))
                        }
                    }
                    return attempts
                }
            }
            var results: [(String, Result<Protos_ProposalResponse, any Error>)] = []
            for await attempts in group { results += attempts }
            return results
        }
    }

    package static let laggingPeerRetries = 2
    package static let laggingPeerPause = Duration.milliseconds(50)
    /// How long another organization's peer may take to endorse (connecting included).
    package static let remoteEndorsementTimeout = Duration.seconds(30)

    /// This peer's endorsement. With early abort on (`transactionID` given), a simulation that
    /// read keys written by transactions this gateway sent and that have not committed yet is run
    /// again once they have (at most `ReadConflictPrecheck.waitRoundsMax` times), instead of
    /// carrying reads that will be stale; one that read nothing pending reserves its writes.
    private func freshLocalEndorsement(
        _ proposal: Protos_SignedProposal, _ channel: GatewayChannel, transactionID: String?
    ) async throws -> LocalEndorsement {
        var round = 0
        while true {
            let response = endorser.processProposal(proposal)
            guard response.response.status < 400 else {
                throw GatewayError(.endorsementRefused, "endorsement refused (\(response.response.status)): \(response.response.message)")
            }
            let payload = try TransactionAssembler.payload(proposal: proposal, responses: [response])
            let local = LocalEndorsement(
                response: response, payload: payload, transaction: try EndorserTransaction(payloadData: try Common_Payload(serializedBytes: payload).data))
            guard let precheck = channel.precheck, let transactionID, round < ReadConflictPrecheck.waitRoundsMax else { return local }
            let writers = precheck.pendingWriters(readBy: local.transaction, transactionID: transactionID)
            guard !writers.isEmpty else {
                precheck.reserve(local.transaction, transactionID: transactionID)
                return local
            }
            for writer in writers { await precheck.waitUntilFinished(writer) }
            round += 1
        }
    }

    /// Whether `responses`, the endorsements of `transaction`, satisfy its policies.
    private func policiesSatisfied(_ transaction: EndorserTransaction, _ responses: [Protos_ProposalResponse], _ channel: GatewayChannel) throws -> Bool {
        let now = clock.now
        let localIdentity = Data(endorser.signer.serialized)
        let signers = responses.compactMap { response -> PolicySigner? in
            // This peer's own endorsement was just signed here: no need to verify it.
            if response.endorsement.endorser == localIdentity {
                return try? channel.validator.membership.validate(serializedIdentity: localIdentity, at: now).policySigner
            }
            return try? channel.validator.membership.verify(
                signature: response.endorsement.signature, over: response.payload + response.endorsement.endorser, by: response.endorsement.endorser, at: now
            ).policySigner
        }
        return try channel.validator.endorsementsSatisfyPolicies(transaction, signers: Array(Set(signers)), reader: try channel.state.makeReader())
    }

    /// Sends the signed transaction to the ordering service over the peer's Broadcast stream
    /// (which fails over between the channel's orderers).
    ///
    /// With early abort on (`GatewayChannel.precheck`), a transaction whose reads are already stale
    /// is not sent: the call fails with ABORTED and a message starting with `MVCC_READ_CONFLICT`.
    ///
    /// An endorser transaction whose endorsements are not bound to it (the proposal hash they
    /// signed is not that of its headers and proposal payload: an endorsement taken from another
    /// transaction) is refused with INVALID_ARGUMENT before it reaches the orderer, as validation
    /// would mark it INVALID_ENDORSER_TRANSACTION.
    ///
    /// When the orderer cannot confirm whether it ordered the transaction, the submitter follows
    /// it until it commits (then this returns as for SUCCESS) or a deadline passes (UNAVAILABLE,
    /// saying the outcome is unknown): `TransactionSubmitter`.
    package func submit(_ envelope: Common_Envelope, channelID: String) async throws {
        let channel = try channel(channelID)
        var bound: (envelope: TransactionEnvelope, transaction: EndorserTransaction)?
        let decoded: TransactionEnvelope
        do {
            decoded = try TransactionEnvelope(envelope: envelope)
        } catch {
            throw GatewayError(.malformedTransaction, "malformed transaction: \(error)")
        }
        if decoded.headerType == .endorserTransaction {
            do {
                bound = (decoded, try EndorserTransaction(boundTo: decoded))
            } catch {
                throw GatewayError(.malformedTransaction, "transaction \(decoded.channelHeader.txID) refused: \(error)")
            }
        }
        let pendingTransactionID = try await precheck(bound, channel)
        let submission: TransactionSubmitter.Submission
        do {
            submission = try await channel.submitter.submit(envelope, transactionID: decoded.channelHeader.txID)
        } catch {
            if let pendingTransactionID { channel.precheck?.finished(pendingTransactionID) }
            throw error
        }
        if let pendingTransactionID, let precheck = channel.precheck {
            switch submission {
            case .ordered:
                let notifier = channel.notifier
                Task {
                    _ = try? await notifier.outcome(of: pendingTransactionID)
                    precheck.finished(pendingTransactionID)
                }
            case .committed:
                precheck.finished(pendingTransactionID)
            }
        }
    }

    /// Early abort: throws MVCC_READ_CONFLICT when the transaction's reads are stale, waiting for
    /// the outcome of pending transactions that write what it reads (a bounded number of rounds).
    /// Returns the txid under which its writes are now pending; nil when early abort is off or
    /// the envelope is not an endorser transaction (the orderer and the peers judge those).
    private func precheck(
        _ bound: (envelope: TransactionEnvelope, transaction: EndorserTransaction)?, _ channel: GatewayChannel
    ) async throws -> String? {
        guard let precheck = channel.precheck, let (decoded, transaction) = bound else { return nil }
        let transactionID = decoded.channelHeader.txID
        for round in 0...ReadConflictPrecheck.waitRoundsMax {
            let force = round == ReadConflictPrecheck.waitRoundsMax
            switch try precheck.check(transaction, transactionID: transactionID, reader: try channel.state.makeReader(), force: force) {
            case .proceed:
                return transactionID
            case .stale:
                precheck.finished(transactionID)
                throw GatewayError(
                    .staleRead,
                    "\(ReadConflictPrecheck.abortMessagePrefix): transaction \(transactionID) read a version older than the committed state; aborted before ordering")
            case .wait(let blockers):
                for blocker in blockers { await precheck.waitUntilFinished(blocker) }
            }
        }
        return transactionID
    }

    /// The outcome of a transaction, waiting until it commits; nil when the peer is stopping.
    package func outcome(of transactionID: String, channelID: String) async throws -> CommitOutcome? {
        try await channel(channelID).notifier.outcome(of: transactionID)
    }

    /// The transaction's validation code, waiting until it commits. The request must be signed by
    /// a member of the channel.
    package func commitStatus(_ signed: Gateway_SignedCommitStatusRequest) async throws -> Gateway_CommitStatusResponse {
        let request = try Gateway_CommitStatusRequest(serializedBytes: signed.request)
        let channel = try channel(request.channelID)
        do {
            _ = try channel.validator.membership.verify(signature: signed.signature, over: signed.request, by: request.identity, at: clock.now)
        } catch {
            throw GatewayError(.accessDenied, "commit status request refused: \(error.reason)")
        }
        guard let outcome = try await channel.notifier.outcome(of: request.transactionID) else {
            throw GatewayError(.stoppedWaiting, "stopped waiting for transaction \(request.transactionID)")
        }
        var response = Gateway_CommitStatusResponse()
        response.result = outcome.validationCode
        response.blockNumber = outcome.blockNumber
        return response
    }

    /// Events of one chaincode from valid transactions, block by block from the requested
    /// position (default: the next block to commit), until the client goes away or the peer stops.
    package func chaincodeEvents(
        _ signed: Gateway_SignedChaincodeEventsRequest, send: (Gateway_ChaincodeEventsResponse) async throws -> Void
    ) async throws {
        let request = try Gateway_ChaincodeEventsRequest(serializedBytes: signed.request)
        let channel = try channel(request.channelID)
        let requester: ValidatedIdentity
        do {
            requester = try channel.blocks.membership.verify(signature: signed.signature, over: signed.request, by: request.identity, at: clock.now)
        } catch {
            throw GatewayError(.accessDenied, "chaincode events request refused: \(error.reason)")
        }
        guard channel.blocks.readers.isSatisfied(by: [requester.policySigner]) else {
            throw GatewayError(.accessDenied, "the requester is not a reader of channel \(request.channelID)")
        }
        let height = channel.blocks.ledger.height
        let start: UInt64
        switch request.startPosition.type {
        case .specified(let position): start = position.number
        case .oldest: start = 0
        case .newest: start = height == 0 ? 0 : height - 1
        case .nextCommit, .none: start = height
        }
        var skipThrough = request.afterTransactionID.isEmpty ? nil : request.afterTransactionID
        let seek = DeliverSeek(channelID: request.channelID, start: start, stop: UInt64.max, waitsForBlocks: true, requester: requester)
        let status = try await channel.blocks.stream(seek) { block in
            var transactions = CommittedTransaction.all(in: block)
            if let after = skipThrough {
                if let index = transactions.firstIndex(where: { $0.transactionID == after }) { transactions.removeFirst(index + 1) }
                skipThrough = nil
            }
            let events = transactions.compactMap { $0.code == .valid ? $0.event : nil }.filter { $0.chaincodeID == request.chaincodeID }
            guard !events.isEmpty else { return }
            var response = Gateway_ChaincodeEventsResponse()
            response.blockNumber = block.header.number
            response.events = events
            try await send(response)
        }
        if status == .serviceUnavailable { throw GatewayError(.peerStopping, "the peer is stopping") }
    }
}

/// The gRPC face of `Gateway`.
package struct GatewayRPCService: Gateway_Gateway.SimpleServiceProtocol {
    /// The gateway as of the call (it changes when the peer joins a channel).
    package let current: @Sendable () -> Gateway
    package var gateway: Gateway { current() }

    package init(gateway: @escaping @Sendable () -> Gateway) { current = gateway }

    package func endorse(request: Gateway_EndorseRequest, context: ServerContext) async throws -> Gateway_EndorseResponse {
        var response = Gateway_EndorseResponse()
        response.preparedTransaction = try await mapped {
            try await gateway.endorse(request.proposedTransaction, channelID: request.channelID, endorsingOrganizations: request.endorsingOrganizations).transaction
        }
        return response
    }

    package func submit(request: Gateway_SubmitRequest, context: ServerContext) async throws -> Gateway_SubmitResponse {
        try await mapped { try await gateway.submit(request.preparedTransaction, channelID: request.channelID) }
        return Gateway_SubmitResponse()
    }

    package func commitStatus(request: Gateway_SignedCommitStatusRequest, context: ServerContext) async throws -> Gateway_CommitStatusResponse {
        try await mapped { try await gateway.commitStatus(request) }
    }

    package func evaluate(request: Gateway_EvaluateRequest, context: ServerContext) async throws -> Gateway_EvaluateResponse {
        var response = Gateway_EvaluateResponse()
        response.result = try await mapped { try gateway.evaluate(request.proposedTransaction, channelID: request.channelID) }
        return response
    }

    package func chaincodeEvents(
        request: Gateway_SignedChaincodeEventsRequest, response: RPCWriter<Gateway_ChaincodeEventsResponse>, context: ServerContext
    ) async throws {
        try await mapped { try await gateway.chaincodeEvents(request) { try await response.write($0) } }
    }

    private func mapped<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw RPCError(gatewayError: error)
        }
    }
}

extension RPCError {
    /// Errors other than RPCErrors (malformed input, storage) become INVALID_ARGUMENT / ABORTED /
    /// INTERNAL with their description; nothing in them is PHI (keys and values never enter them).
    package init(gatewayError error: any Error) {
        switch error {
        case let error as RPCError: self = error
        case let error as GatewayError:
            let code: RPCError.Code = switch error.code {
            case .unknownChannel: .notFound
            case .endorsementRefused, .staleRead: .aborted
            case .policyNotSatisfied: .failedPrecondition
            case .malformedTransaction: .invalidArgument
            case .accessDenied: .permissionDenied
            case .stoppedWaiting: .cancelled
            case .peerStopping: .unavailable
            }
            self = RPCError(code: code, message: error.reason)
        case let error as SubmissionError:
            let code: RPCError.Code = switch error.code {
            case .refused: .aborted
            case .stoppedWaiting: .cancelled
            case .orderingUnavailable, .outcomeUnknown, .peerStopping: .unavailable
            }
            self = RPCError(code: code, message: error.reason)
        case let error as TransactionAssemblyError: self = RPCError(code: .aborted, message: error.reason)
        case let error as SwiftProtobuf.BinaryDecodingError: self = RPCError(code: .invalidArgument, message: "malformed request: \(error)")
        case let error as TransactionEnvelope.DecodingFailure: self = RPCError(code: .invalidArgument, message: "malformed transaction: \(error)")
        default: self = RPCError(code: .internalError, message: "\(error)")
        }
    }
}
