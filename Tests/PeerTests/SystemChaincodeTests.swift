import Endorser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig
import RPCTransport
import SwiftProtobuf
import Testing
import TestSupport
@testable import NodeClients

/// qscc and cscc on a running peer, called as Fabric's `peer` CLI calls them: proposals with an
/// empty channel id and Fabric's function names, answers in Fabric's messages.
@Suite(.serialized) struct SystemChaincodeTests {
    /// The proposal response of `chaincode` `arguments` (raw bytes each), sent by `user` of `org`.
    static func call(
        _ network: LocalTestNetwork, org: String = "HospitalA", user: String, _ chaincode: String, _ arguments: [Data], signer: SigningIdentity? = nil
    ) async throws -> Protos_ProposalResponse {
        let identity = try signer ?? network.signer(org: org, user: user)
        var proposal = try ProposalFactory.make(channel: "", chaincode: chaincode, arguments: [], signer: identity, timestamp: Date())
        // Raw argument bytes (a genesis block for JoinChain): re-encode the invocation and sign again.
        var decoded = try Protos_Proposal(serializedBytes: proposal.proposalBytes)
        var payload = try Protos_ChaincodeProposalPayload(serializedBytes: decoded.payload)
        var invocation = try Protos_ChaincodeInvocationSpec(serializedBytes: payload.input)
        invocation.chaincodeSpec.input.args = arguments
        payload.input = try invocation.serializedData()
        decoded.payload = try payload.serializedData()
        proposal.proposalBytes = try decoded.serializedData()
        proposal.signature = Data(try identity.sign(proposal.proposalBytes))
        // Fabric's unary Endorser.ProcessProposal, as the peer CLI sends it.
        let tls = network.clientTLS(org: org, user: user, trusting: "HospitalA")
        let signedProposal = proposal
        return try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: network.peers[0].port), transportSecurity: tls.clientSecurity)
        ) { client in
            try await Protos_Endorser.Client(wrapping: client).processProposal(signedProposal)
        }
    }

    static func text(_ strings: String...) -> [Data] { strings.map { Data($0.utf8) } }

    @Test func qsccAndCsccAnswerAsFabricsDo() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        let channel = network.channel
        let txID = try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
            let txID = try await gateway.submit(channel: channel, chaincode: "kv", arguments: ["put", "qscc", "1"])
            #expect(try await gateway.commitStatus(channel: channel, transactionID: txID).result == .valid)
            return txID
        }
        let height = try await network.height(peer: 0)

        // GetChainInfo: the height and the last two blocks' hashes.
        let info = try await Self.call(network, user: "dr-carter", "qscc", Self.text("GetChainInfo", channel))
        #expect(info.response.status == 200, "\(info.response.message)")
        let chain = try Common_BlockchainInfo(serializedBytes: info.response.payload)
        #expect(chain.height == height)
        let last = try await Self.call(network, user: "dr-carter", "qscc", Self.text("GetBlockByNumber", channel, "\(height - 1)"))
        let lastBlock = try Common_Block(serializedBytes: last.response.payload)
        #expect(lastBlock.header.number == height - 1 && chain.currentBlockHash == Data(lastBlock.header.hash) && chain.previousBlockHash == lastBlock.header.previousHash)
        // GetBlockByHash gives the same block; GetTransactionByID and GetBlockByTxID find the put.
        let byHash = try await Self.call(network, user: "dr-carter", "qscc", [Data("GetBlockByHash".utf8), Data(channel.utf8), Data(lastBlock.header.hash)])
        #expect(try Common_Block(serializedBytes: byHash.response.payload).header.number == height - 1)
        let processed = try Protos_ProcessedTransaction(serializedBytes: try await Self.call(network, user: "dr-carter", "qscc", Self.text("GetTransactionByID", channel, txID)).response.payload)
        #expect(processed.validationCode == 0)
        #expect(try TransactionEnvelope(envelope: processed.transactionEnvelope).channelHeader.txID == txID)
        let byTx = try Common_Block(serializedBytes: try await Self.call(network, user: "dr-carter", "qscc", Self.text("GetBlockByTxID", channel, txID)).response.payload)
        #expect(try byTx.data.data.contains { try TransactionEnvelope(serialized: $0).channelHeader.txID == txID })
        // The answer is endorsed by the peer over the proposal's hash, as any endorsement.
        #expect(!info.endorsement.signature.isEmpty && !info.payload.isEmpty)

        // cscc: the channels joined, and the channel's current configuration.
        let channels = try Protos_ChannelQueryResponse(serializedBytes: try await Self.call(network, user: "dr-carter", "cscc", Self.text("GetChannels")).response.payload)
        #expect(channels.channels.map(\.channelID) == [channel])
        let config = try Common_Config(serializedBytes: try await Self.call(network, user: "dr-carter", "cscc", Self.text("GetChannelConfig", channel)).response.payload)
        #expect(config.sequence == 0 && config.channelGroup.groups["Application"]?.groups.keys.sorted() == ["HospitalAMSP", "HospitalBMSP"])

        // Refusals, with Fabric's statuses.
        #expect(try await Self.call(network, user: "dr-carter", "qscc", Self.text("GetChainInfo", "nochannel")).response.status == 404)
        #expect(try await Self.call(network, user: "dr-carter", "qscc", Self.text("GetBlockByNumber", channel, "-1")).response.status == 400)
        #expect(try await Self.call(network, user: "dr-carter", "qscc", Self.text("GetBlockByNumber", channel, "99999")).response.status == 404)
        #expect(try await Self.call(network, user: "dr-carter", "qscc", Self.text("GetTransactionByID", channel, "nosuchtx")).response.status == 404)
        #expect(try await Self.call(network, user: "dr-carter", "qscc", Self.text("NoSuchFunction", channel)).response.status == 404)
        #expect(try await Self.call(network, user: "dr-carter", "qscc", []).response.status == 400)
        // A stranger's identity (another CA) is refused; so is a clinician of another organization for cscc.
        let stranger = try TestPKI(mspID: "HospitalAMSP", domain: "stranger.test").identity("mallory", units: ["client"], days: 3650)
        #expect(try await Self.call(network, user: "dr-carter", "qscc", Self.text("GetChainInfo", channel), signer: stranger).response.status == 403)
        #expect(try await Self.call(network, org: "HospitalB", user: "lab-tech-lee", "cscc", Self.text("GetChannels")).response.status == 403)
        // JoinChain: admins only; a channel joined already is refused with the reason.
        let genesis = try Data(contentsOf: network.work.appendingPathComponent("nodes/127.0.0.1/carechannel.block"))
        #expect(try await Self.call(network, user: "dr-carter", "cscc", [Data("JoinChain".utf8), genesis]).response.status == 403)
        let again = try await Self.call(network, user: "admin", "cscc", [Data("JoinChain".utf8), genesis])
        #expect(again.response.status == 500 && again.response.message.contains("joined already"), "\(again.response.message)")
        #expect(try await Self.call(network, user: "admin", "cscc", [Data("JoinChain".utf8), Data([1, 2, 3])]).response.status == 400)
    }
}
