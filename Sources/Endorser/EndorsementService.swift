import Chaincode
import Crypto
import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import WorldState

/// What the endorser needs of one channel it has joined.
package struct ChannelEndorsementResources: Sendable {
    package let state: any StateDatabase
    /// Committed history of a key (namespace, key), newest first.
    package let history: @Sendable (String, String) throws -> [KeyModification]
    /// Whether a txid is already committed on the channel.
    package let isCommitted: @Sendable (String) throws -> Bool
    /// The chaincodes defined on the channel, by name, with their version.
    package let chaincodes: [String: (version: String, contract: any Contract)]
    /// The channel's MSPs, which validate proposal creators (nil: the service's membership).
    package var membership: MembershipRegistry?
    /// Who may propose on the channel (Fabric's Application Writers; nil: any valid member).
    package var writers: EndorsementPolicy?

    package init(
        state: any StateDatabase,
        history: @escaping @Sendable (String, String) throws -> [KeyModification],
        isCommitted: @escaping @Sendable (String) throws -> Bool,
        chaincodes: [String: (version: String, contract: any Contract)]
    ) {
        self.state = state
        self.history = history
        self.isCommitted = isCommitted
        self.chaincodes = chaincodes
    }
}

/// The endorser: checks a signed proposal, simulates its chaincode against a state snapshot, and
/// signs the result (Fabric's `Endorser.ProcessProposal`). A chaincode that answers with status
/// 400 or more gets that status and message back and no endorsement; so does every refusal.
package struct EndorsementService: Sendable {
    package let signer: SigningIdentity
    package let membership: MembershipRegistry
    package let channels: [String: ChannelEndorsementResources]
    package let timestampSkew: TimeInterval
    package let executionTimeMax: Duration
    package let clock: @Sendable () -> Date
    /// Where this peer's endorsement signatures are remembered for its own validation; nil: nowhere.
    package let ownSignatures: OwnSignatures?

    package init(
        signer: SigningIdentity,
        membership: MembershipRegistry,
        channels: [String: ChannelEndorsementResources],
        timestampSkew: TimeInterval = Limits.proposalTimestampSkewDefault,
        executionTimeMax: Duration = Limits.chaincodeExecutionTimeMax,
        clock: @escaping @Sendable () -> Date = { Date() },
        ownSignatures: OwnSignatures? = nil
    ) {
        self.ownSignatures = ownSignatures
        self.signer = signer
        self.membership = membership
        self.channels = channels
        self.timestampSkew = timestampSkew
        self.executionTimeMax = executionTimeMax
        self.clock = clock
    }

    package func processProposal(_ signed: Protos_SignedProposal) -> Protos_ProposalResponse {
        do {
            return try endorse(signed)
        } catch {
            return Self.refusal(status: error.status, message: error.reason)
        }
    }

    private func endorse(_ signed: Protos_SignedProposal) throws(EndorserError) -> Protos_ProposalResponse {
        // A creator is validated by the MSPs of the channel it proposes on, not of any joined channel.
        let resources = ProposalChecker.channelID(of: signed).flatMap { channels[$0] }
        let checker = ProposalChecker(
            membership: resources?.membership ?? membership, channels: Set(channels.keys), timestampSkew: timestampSkew, writers: resources?.writers)
        let proposal = try checker.check(signed, now: clock())
        let channel = channels[proposal.channelHeader.channelID]!
        guard let chaincode = channel.chaincodes[proposal.chaincodeName] else {
            throw EndorserError(.unknownChaincode, "chaincode '\(proposal.chaincodeName)' is not defined on channel '\(proposal.channelHeader.channelID)'")
        }
        do {
            if try channel.isCommitted(proposal.transactionID) {
                throw EndorserError(.duplicateTransaction, "transaction \(proposal.transactionID) is already committed")
            }
        } catch let error as EndorserError {
            throw error
        } catch {
            throw EndorserError(.simulationFailed, "cannot check the txid against the ledger: \(error)")
        }
        let reader: any StateReader
        do {
            reader = try channel.state.makeReader()
        } catch {
            throw EndorserError(.simulationFailed, "cannot read the state: \(error)")
        }
        try Self.checkDefinition(of: proposal.chaincodeName, installedVersion: chaincode.version, channel: proposal.channelHeader.channelID, reader: reader)
        let simulator = TransactionSimulator(.init(
                transactionID: proposal.transactionID,
                channelID: proposal.channelHeader.channelID,
                timestamp: proposal.channelHeader.timestamp.instant,
                clientIdentity: Self.clientIdentity(proposal.creator),
                transient: proposal.transientMap.mapValues { Array($0) },
                reader: reader,
                history: channel.history,
                contracts: { name in channel.chaincodes[name]?.contract.router },
                deadline: .now + executionTimeMax))
        let response = simulator.run(chaincode.contract.router, namespace: proposal.chaincodeName, arguments: proposal.arguments.map { Array($0) })
        guard response.isSuccess else { return Self.refusal(status: response.status, message: response.message) }
        guard ContinuousClock.now <= simulator.context.deadline else {
            throw EndorserError(.simulationFailed, "chaincode '\(proposal.chaincodeName)' exceeded its execution time limit")
        }
        guard response.payload.count <= Limits.chaincodeResponseBytesMax else {
            throw EndorserError(.simulationFailed, "chaincode response of \(response.payload.count) bytes exceeds \(Limits.chaincodeResponseBytesMax)")
        }
        if simulator.usedPaginatedQuery, simulator.hasWrites {
            throw EndorserError(.simulationFailed, "paginated queries are allowed only in read-only transactions")
        }
        do {
            return try signedResponse(proposal, chaincodeVersion: chaincode.version, simulator: simulator, response: response)
        } catch let error as EndorserError {
            throw error
        } catch {
            throw EndorserError(.simulationFailed, "cannot build the proposal response: \(error)")
        }
    }

    /// A chaincode runs only once the channel committed its definition (`_lifecycle`), at the
    /// version installed here. `_lifecycle` itself always runs.
    static func checkDefinition(of name: String, installedVersion: String, channel: String, reader: any StateReader) throws(EndorserError) {
        guard name != ChaincodeDefinition.namespace else { return }
        let stored: VersionedValue?
        do {
            stored = try reader.get(namespace: ChaincodeDefinition.namespace, key: ChaincodeDefinition.definitionKey(name))
        } catch {
            throw EndorserError(.simulationFailed, "cannot read the definition of chaincode '\(name)': \(error)")
        }
        guard let bytes = stored?.value, let definition = ChaincodeDefinition.decode(bytes) else {
            throw EndorserError(
                .unknownChaincode,
                "chaincode '\(name)' is installed but has no committed definition on channel '\(channel)'; approve and commit one (medrex chaincode approve, commit)")
        }
        guard definition.version == installedVersion else {
            throw EndorserError(
                .unknownChaincode,
                "chaincode '\(name)' is installed at version \(installedVersion) but the channel's definition is version \(definition.version)")
        }
    }

    private func signedResponse(
        _ proposal: CheckedProposal, chaincodeVersion: String, simulator: TransactionSimulator, response: ChaincodeResponse
    ) throws -> Protos_ProposalResponse {
        var action = Protos_ChaincodeAction()
        action.results = try simulator.readWriteSet().serializedData()
        if let event = simulator.event { action.events = try event.serializedData() }
        action.response.status = response.status
        action.response.message = response.message
        action.response.payload = Data(response.payload)
        action.chaincodeID.name = proposal.chaincodeName
        action.chaincodeID.version = chaincodeVersion
        var payload = Protos_ProposalResponsePayload()
        payload.proposalHash = try Self.proposalHash(proposal)
        payload.extension = try action.serializedData()
        let payloadBytes = try payload.serializedData()

        var result = Protos_ProposalResponse()
        result.version = 1
        result.response.status = response.status
        result.response.message = response.message
        result.response.payload = Data(response.payload)
        result.payload = payloadBytes
        result.endorsement.endorser = Data(signer.serialized)
        do {
            let signed = payloadBytes + signer.serialized
            let signature = try signer.sign(signed)
            ownSignatures?.record(signature: signature, over: signed)
            result.endorsement.signature = Data(signature)
        } catch {
            throw EndorserError(.simulationFailed, "signing the endorsement failed: \(error.reason)")
        }
        return result
    }

    /// Fabric's proposal hash (`ProposalHash`) of the checked proposal.
    static func proposalHash(_ proposal: CheckedProposal) throws -> Data {
        let header = try Common_Header(serializedBytes: proposal.proposal.header)
        return ProposalHash.of(
            channelHeader: header.channelHeader, signatureHeader: header.signatureHeader,
            proposalPayload: try ProposalHash.payloadForTransaction(proposal.proposal.payload))
    }

    static func clientIdentity(_ identity: ValidatedIdentity) -> ClientIdentity {
        ClientIdentity(
            id: identity.clientID,
            mspID: identity.mspID, role: identity.role.rawValue, attributes: identity.attributes)
    }

    /// A system chaincode's answer (qscc, cscc): status 200 with `payload`, no read/write set,
    /// endorsed by `signer` over the proposal's hash as any endorsement.
    package static func systemResponse(_ proposal: CheckedProposal, payload responsePayload: Data, signer: SigningIdentity) throws -> Protos_ProposalResponse {
        var action = Protos_ChaincodeAction()
        action.response.status = 200
        action.response.payload = responsePayload
        action.chaincodeID.name = proposal.chaincodeName
        var payload = Protos_ProposalResponsePayload()
        payload.proposalHash = try proposalHash(proposal)
        payload.extension = try action.serializedData()
        let payloadBytes = try payload.serializedData()
        var result = Protos_ProposalResponse()
        result.version = 1
        result.response.status = 200
        result.response.payload = responsePayload
        result.payload = payloadBytes
        result.endorsement.endorser = Data(signer.serialized)
        result.endorsement.signature = Data(try signer.sign(payloadBytes + signer.serialized))
        return result
    }

    package static func refusal(status: Int32, message: String) -> Protos_ProposalResponse {
        var response = Protos_ProposalResponse()
        response.version = 1
        response.response.status = status
        response.response.message = message
        return response
    }
}
