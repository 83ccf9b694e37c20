import Committer
import Endorser
import Foundation
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig
import SwiftProtobuf

/// Fabric's system chaincodes on a peer, with Fabric's function names, arguments and answers, so
/// that Fabric's `peer channel getinfo | list | join` and SDK queries work against Medrex:
///
/// - `qscc` (args `[function, channel, argument]`): GetChainInfo (a `common.BlockchainInfo`),
///   GetBlockByNumber (decimal), GetBlockByHash (the header hash's bytes), GetTransactionByID (a
///   `protos.ProcessedTransaction`), GetBlockByTxID; allowed to members of the channel's
///   organizations (the channel's Readers).
/// - `cscc`: GetChannels (a `protos.ChannelQueryResponse`; members of the peer's organization),
///   JoinChain (args `[JoinChain, genesis block]`; admins of the peer's organization; the channel
///   is joined with no chaincode besides `_lifecycle`: `medrex channel join` names the installed
///   ones), GetChannelConfig (args `[GetChannelConfig, channel]`: the current `common.Config`).
///
/// Proposals name no channel in their header (Fabric sends them with an empty channel id); the
/// creator is validated by the MSPs of the channel the arguments name, or by the peer's own.
extension PeerNode {
    static let systemChaincodeNames: Set<String> = ["qscc", "cscc"]

    /// The chaincode a proposal invokes, when it decodes.
    static func invokedChaincode(_ signed: Protos_SignedProposal) -> (name: String, arguments: [Data])? {
        guard let proposal = try? Protos_Proposal(serializedBytes: signed.proposalBytes),
            let header = try? Common_Header(serializedBytes: proposal.header),
            let channelHeader = try? Common_ChannelHeader(serializedBytes: header.channelHeader),
            let headerExtension = try? Protos_ChaincodeHeaderExtension(serializedBytes: channelHeader.extension),
            let payload = try? Protos_ChaincodeProposalPayload(serializedBytes: proposal.payload),
            let invocation = try? Protos_ChaincodeInvocationSpec(serializedBytes: payload.input)
        else { return nil }
        return (headerExtension.chaincodeID.name, invocation.chaincodeSpec.input.args)
    }

    /// Answers a proposal to qscc or cscc; nil when it is for another chaincode.
    package func processSystemProposal(_ signed: Protos_SignedProposal, now: Date = Date()) -> Protos_ProposalResponse? {
        guard let (name, arguments) = Self.invokedChaincode(signed), Self.systemChaincodeNames.contains(name) else { return nil }
        do {
            return try answerSystemProposal(signed, chaincode: name, arguments: arguments, now: now)
        } catch {
            return EndorsementService.refusal(status: error.status, message: error.reason)
        }
    }

    private func answerSystemProposal(_ signed: Protos_SignedProposal, chaincode: String, arguments: [Data], now: Date) throws(EndorserError) -> Protos_ProposalResponse {
        guard let first = arguments.first else { throw EndorserError(.malformedProposal, "\(chaincode) needs a function name") }
        let function = String(decoding: first, as: UTF8.self)
        func argument(_ index: Int, _ what: String) throws(EndorserError) -> Data {
            guard arguments.indices.contains(index) else { throw EndorserError(.malformedProposal, "\(chaincode) \(function) needs \(what)") }
            return arguments[index]
        }
        /// The channel an argument names, joined here, and the checked proposal by its members.
        func channel(_ index: Int) throws(EndorserError) -> (JoinedChannel, CheckedProposal) {
            let id = String(decoding: try argument(index, "a channel name"), as: UTF8.self)
            guard let joined = services.withLock({ $0.channels[id] }) else { throw EndorserError(.unknownChannel, "channel '\(id.prefix(64))' is not joined by this peer") }
            let membership = joined.resources.membership ?? MembershipRegistry(joined.providers)
            let readers = EndorsementPolicy.or(joined.providers.map { .signedBy(PolicyPrincipal(mspID: $0.mspID, kind: .member)) })
            return (joined, try check(signed, membership: membership, policy: readers, now: now))
        }
        let payload: Data
        let proposal: CheckedProposal
        switch (chaincode, function) {
        case ("qscc", "GetChainInfo"):
            let (joined, checked) = try channel(1)
            proposal = checked
            var info = Common_BlockchainInfo()
            let height = joined.ledger.height
            info.height = height
            if height > 0, let last = try read({ try joined.ledger.blockStore.block(number: height - 1) }) {
                info.currentBlockHash = Data(last.header.hash)
                info.previousBlockHash = last.header.previousHash
            }
            payload = try encode(info)
        case ("qscc", "GetBlockByNumber"):
            let (joined, checked) = try channel(1)
            proposal = checked
            guard let number = UInt64(String(decoding: try argument(2, "a block number"), as: UTF8.self)) else {
                throw EndorserError(.malformedProposal, "the block number is not a decimal number")
            }
            guard let block = try read({ try joined.ledger.blockStore.block(number: number) }) else { throw EndorserError(.notFound, "block \(number) is not committed") }
            payload = try encode(block)
        case ("qscc", "GetBlockByHash"):
            let (joined, checked) = try channel(1)
            proposal = checked
            let hash = try argument(2, "a block hash")
            guard let block = try read({ try joined.ledger.blockStore.block(hash: Array(hash)) }) else { throw EndorserError(.notFound, "no block has that hash") }
            payload = try encode(block)
        case ("qscc", "GetTransactionByID"), ("qscc", "GetBlockByTxID"):
            let (joined, checked) = try channel(1)
            proposal = checked
            let txID = String(decoding: try argument(2, "a transaction id"), as: UTF8.self)
            guard let location = try read({ try joined.ledger.blockStore.transactionLocation(txID) }),
                let block = try read({ try joined.ledger.blockStore.block(number: location.blockNumber) })
            else { throw EndorserError(.notFound, "transaction \(txID.prefix(64)) is not committed") }
            if function == "GetBlockByTxID" {
                payload = try encode(block)
            } else {
                let index = Int(location.transactionNumber)
                guard block.data.data.indices.contains(index), let envelope = try? Common_Envelope(serializedBytes: block.data.data[index]) else {
                    throw EndorserError(.notFound, "transaction \(txID.prefix(64)) is not in its block")
                }
                var processed = Protos_ProcessedTransaction()
                processed.transactionEnvelope = envelope
                processed.validationCode = Int32(location.validationCode.rawValue)
                payload = try encode(processed)
            }
        case ("cscc", "GetChannels"):
            proposal = try check(signed, membership: MembershipRegistry([ownOrganization]), policy: nil, now: now)
            var answer = Protos_ChannelQueryResponse()
            answer.channels = channels.map { channel in
                var info = Protos_ChannelInfo()
                info.channelID = channel.channelID
                return info
            }
            payload = try encode(answer)
        case ("cscc", "GetChannelConfig"):
            let (joined, checked) = try channel(1)
            proposal = checked
            let latest: (config: ChannelConfig, number: UInt64)
            do {
                latest = try ChannelConfig.latest(height: joined.ledger.height) { try joined.ledger.blockStore.block(number: $0) }
            } catch {
                throw EndorserError(.simulationFailed, "the channel's configuration cannot be read: \(error)")
            }
            payload = try encode(latest.config.config)
        case ("cscc", "JoinChain"):
            proposal = try check(signed, membership: MembershipRegistry([ownOrganization]), policy: nil, now: now)
            guard proposal.creator.role == .admin else { throw EndorserError(.accessDenied, "only an admin of \(ownOrganization.mspID) may join this peer to a channel") }
            guard let genesis = try? Common_Block(serializedBytes: try argument(1, "the channel's genesis block")) else {
                throw EndorserError(.malformedProposal, "the argument is not a common.Block")
            }
            do {
                let joined = try join(genesis: genesis, chaincodes: [], source: "cscc JoinChain")
                logger.notice("joined a channel by cscc JoinChain", metadata: ["channel": "\(joined.channelID)", "admin": "\(proposal.creator.clientID)"])
            } catch {
                throw EndorserError(.simulationFailed, "joining failed: \(error)")
            }
            payload = Data()
        default:
            throw EndorserError(.unknownChaincode, "\(chaincode) has no function '\(function.prefix(64))'")
        }
        do {
            return try EndorsementService.systemResponse(proposal, payload: payload, signer: signer)
        } catch {
            throw EndorserError(.simulationFailed, "signing the answer failed: \(error)")
        }
    }

    /// The proposal's checks (structure, signature, txid, timestamp) with the creator validated
    /// by `membership`; the proposal must name no channel or a joined one.
    private func check(_ signed: Protos_SignedProposal, membership: MembershipRegistry, policy: EndorsementPolicy?, now: Date) throws(EndorserError) -> CheckedProposal {
        let joined = Set(services.withLock { $0.channels.keys })
        let checker = ProposalChecker(
            membership: membership, channels: joined.union([""]), timestampSkew: TimeInterval(configuration.proposalTimestampSkewSeconds), writers: policy)
        return try checker.check(signed, now: now)
    }

    private func read<T>(_ work: () throws -> T) throws(EndorserError) -> T {
        do { return try work() } catch { throw EndorserError(.simulationFailed, "the ledger cannot be read: \(error)") }
    }

    private func encode(_ message: some SwiftProtobuf.Message) throws(EndorserError) -> Data {
        do { return try message.serializedData() } catch { throw EndorserError(.simulationFailed, "the answer cannot be encoded") }
    }
}
