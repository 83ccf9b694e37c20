import Crypto
import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf

/// Builds signed chaincode proposals the way Fabric's client SDKs do: the counterpart of
/// `ProposalChecker`, used by clients (the CLI, benchmarks) and tests.
package enum ProposalFactory {
    package static func make(
        channel: String,
        chaincode: String,
        arguments: [String],
        transient: [String: [UInt8]] = [:],
        signer: SigningIdentity,
        timestamp: Date,
        nonce: [UInt8] = (0..<24).map { _ in UInt8.random(in: 0...255) }
    ) throws -> Protos_SignedProposal {
        var signatureHeader = Common_SignatureHeader()
        signatureHeader.creator = Data(signer.serialized)
        signatureHeader.nonce = Data(nonce)
        var headerExtension = Protos_ChaincodeHeaderExtension()
        headerExtension.chaincodeID.name = chaincode
        var channelHeader = Common_ChannelHeader()
        channelHeader.type = Int32(Common_HeaderType.endorserTransaction.rawValue)
        channelHeader.channelID = channel
        channelHeader.txID = TransactionID.make(nonce: nonce, creator: signer.serialized)
        channelHeader.timestamp = Google_Protobuf_Timestamp(date: timestamp)
        channelHeader.extension = try headerExtension.serializedData()
        var header = Common_Header()
        header.channelHeader = try channelHeader.serializedData()
        header.signatureHeader = try signatureHeader.serializedData()

        var invocation = Protos_ChaincodeInvocationSpec()
        invocation.chaincodeSpec.type = .golang
        invocation.chaincodeSpec.chaincodeID.name = chaincode
        invocation.chaincodeSpec.input.args = arguments.map { Data($0.utf8) }
        var payload = Protos_ChaincodeProposalPayload()
        payload.input = try invocation.serializedData()
        payload.transientMap = transient.mapValues { Data($0) }

        var proposal = Protos_Proposal()
        proposal.header = try header.serializedData()
        proposal.payload = try payload.serializedData()
        var signed = Protos_SignedProposal()
        signed.proposalBytes = try proposal.serializedData()
        signed.signature = Data(try signer.sign(signed.proposalBytes))
        return signed
    }
}
