import Endorser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Identity
import LedgerWire
import RPCTransport
import SwiftProtobuf

/// A client of a peer's Gateway service: endorse, sign, submit and wait for the commit, the way
/// Fabric's client SDKs use it.
package struct GatewayClient: Sendable {
    package let gateway: Gateway_Gateway.Client<HTTP2ClientTransport.Posix>
    package let signer: SigningIdentity

    /// Keeps one connection to the peer open while `body` runs.
    package static func withConnection<Result: Sendable>(
        host: String, port: Int, tls: MutualTLS, signer: SigningIdentity, _ body: (GatewayClient) async throws -> Result
    ) async throws -> Result {
        try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: host, port: port), transportSecurity: tls.clientSecurity)) { client in
            try await body(GatewayClient(gateway: Gateway_Gateway.Client(wrapping: client), signer: signer))
        }
    }

    /// Evaluates a chaincode function on the gateway peer; nothing is ordered.
    package func evaluate(channel: String, chaincode: String, arguments: [String], transient: [String: [UInt8]] = [:]) async throws -> Protos_Response {
        let proposal = try ProposalFactory.make(channel: channel, chaincode: chaincode, arguments: arguments, transient: transient, signer: signer, timestamp: Date())
        var request = Gateway_EvaluateRequest()
        request.channelID = channel
        request.proposedTransaction = proposal
        return try await gateway.evaluate(request).result
    }

    /// Endorses, signs and submits a transaction; returns its txid without waiting for the commit.
    package func submit(channel: String, chaincode: String, arguments: [String], transient: [String: [UInt8]] = [:]) async throws -> String {
        let proposal = try ProposalFactory.make(channel: channel, chaincode: chaincode, arguments: arguments, transient: transient, signer: signer, timestamp: Date())
        let envelope = try await endorse(channel: channel, proposal: proposal)
        try await submit(channel: channel, envelope: envelope)
        return try Self.transactionID(of: proposal)
    }

    /// The gateway's Endorse: the transaction, signed here by the client. With
    /// `endorsingOrganizations`, only those organizations' peers endorse and the gateway leaves the
    /// policies to validation; each of `coSigners` then adds its co-signature (DESIGN §3).
    package func endorse(
        channel: String, proposal: Protos_SignedProposal, endorsingOrganizations: [String] = [], coSigners: [SigningIdentity] = []
    ) async throws -> Common_Envelope {
        var endorse = Gateway_EndorseRequest()
        endorse.transactionID = try Self.transactionID(of: proposal)
        endorse.channelID = channel
        endorse.proposedTransaction = proposal
        endorse.endorsingOrganizations = endorsingOrganizations
        var envelope = try await gateway.endorse(endorse).preparedTransaction
        for coSigner in coSigners { envelope.payload = try TransactionAssembler.addCoSignature(to: envelope.payload, by: coSigner) }
        envelope.signature = Data(try signer.sign(envelope.payload))
        return envelope
    }

    /// The gateway's Submit of a signed transaction.
    package func submit(channel: String, envelope: Common_Envelope) async throws {
        var submit = Gateway_SubmitRequest()
        submit.channelID = channel
        submit.preparedTransaction = envelope
        _ = try await gateway.submit(submit)
    }

    package static func transactionID(of proposal: Protos_SignedProposal) throws -> String {
        try Common_ChannelHeader(serializedBytes: try Common_Header(serializedBytes: try Protos_Proposal(serializedBytes: proposal.proposalBytes).header).channelHeader).txID
    }

    /// Waits until the transaction commits; its validation code and block.
    package func commitStatus(channel: String, transactionID: String) async throws -> Gateway_CommitStatusResponse {
        var request = Gateway_CommitStatusRequest()
        request.channelID = channel
        request.transactionID = transactionID
        request.identity = Data(signer.serialized)
        var signed = Gateway_SignedCommitStatusRequest()
        signed.request = try request.serializedData()
        signed.signature = Data(try signer.sign(signed.request))
        return try await gateway.commitStatus(signed)
    }
}

extension GatewayClient {
    /// How an ABORTED answer of a gateway starts when it did not order a transaction because a
    /// read was already stale (peer.yaml `earlyAbort`): the client may retry at once.
    package static let earlyAbortMessagePrefix = "MVCC_READ_CONFLICT"
}
