import GRPCCore
import LedgerWire

/// A gRPC method the fuzzer calls: its descriptor from the generated code (Sources/LedgerWire),
/// the kind of node that serves it, and what its request message is, which decides the valid
/// messages and seeds it starts from.
package struct FuzzedMethod: Sendable, Hashable {
    package enum Role: String, Sendable, Hashable, CaseIterable {
        case peer
        case orderer
    }

    /// The request message of a method, as far as building and wrapping seeds goes.
    package enum Input: String, Sendable, Hashable, CaseIterable {
        /// A signed DELIVER_SEEK_INFO envelope (the Deliver methods of peers and orderers).
        case seekEnvelope
        /// A signed transaction envelope (AtomicBroadcast.Broadcast).
        case transactionEnvelope
        case signedProposal
        case endorsementRequest
        case transactRequest
        case endorseRequest
        case evaluateRequest
        case submitRequest
        case signedCommitStatusRequest
        case signedChaincodeEventsRequest
        case signedAdminJoinChannel
        case signedAdminListChannels
        case signedPhiPut
        case signedPhiGet
        case signedPhiVerify
        case signedPhiKeys
        case signedPhiErase
        /// A method the catalogue has no entry for (added to the protos since): random and
        /// mutated messages of every kind.
        case unknown
    }

    package let descriptor: MethodDescriptor
    package let role: Role
    package let input: Input

    /// `package.Service/Method`.
    package var name: String { descriptor.fullyQualifiedMethod }
    package var type: MethodDescriptor.RPCType { descriptor.type ?? .bidirectionalStreaming }

    /// Every method a peer serves (the PHI methods when its `phi:` section is configured),
    /// taken from the generated service descriptors so that a method added to the protos is
    /// fuzzed without a change here.
    package static let peerMethods: [FuzzedMethod] = [
        Gateway_Gateway.Method.descriptors, Protos_Deliver.Method.descriptors, Protos_Endorser.Method.descriptors,
        Medrex_EndorsementStream.Method.descriptors, Medrex_TransactionStream.Method.descriptors,
        Medrex_PeerAdmin.Method.descriptors, Medrex_PhiRecords.Method.descriptors,
    ].joined().map { FuzzedMethod(descriptor: $0, role: .peer, input: inputs[$0] ?? .unknown) }

    /// Every method an orderer serves. (etcd's KV service is one the orderers call, not serve.)
    package static let ordererMethods: [FuzzedMethod] = Orderer_AtomicBroadcast.Method.descriptors.map {
        FuzzedMethod(descriptor: $0, role: .orderer, input: inputs[$0] ?? .unknown)
    }

    package static let all: [FuzzedMethod] = peerMethods + ordererMethods

    private static let inputs: [MethodDescriptor: Input] = [
        Gateway_Gateway.Method.Endorse.descriptor: .endorseRequest,
        Gateway_Gateway.Method.Submit.descriptor: .submitRequest,
        Gateway_Gateway.Method.CommitStatus.descriptor: .signedCommitStatusRequest,
        Gateway_Gateway.Method.Evaluate.descriptor: .evaluateRequest,
        Gateway_Gateway.Method.ChaincodeEvents.descriptor: .signedChaincodeEventsRequest,
        Protos_Deliver.Method.Deliver.descriptor: .seekEnvelope,
        Protos_Deliver.Method.DeliverFiltered.descriptor: .seekEnvelope,
        Protos_Endorser.Method.ProcessProposal.descriptor: .signedProposal,
        Medrex_EndorsementStream.Method.ProcessProposals.descriptor: .endorsementRequest,
        Medrex_TransactionStream.Method.Transact.descriptor: .transactRequest,
        Medrex_PeerAdmin.Method.JoinChannel.descriptor: .signedAdminJoinChannel,
        Medrex_PeerAdmin.Method.ListChannels.descriptor: .signedAdminListChannels,
        Medrex_PhiRecords.Method.Put.descriptor: .signedPhiPut,
        Medrex_PhiRecords.Method.Get.descriptor: .signedPhiGet,
        Medrex_PhiRecords.Method.Verify.descriptor: .signedPhiVerify,
        Medrex_PhiRecords.Method.Keys.descriptor: .signedPhiKeys,
        Medrex_PhiRecords.Method.Erase.descriptor: .signedPhiErase,
        Orderer_AtomicBroadcast.Method.Broadcast.descriptor: .transactionEnvelope,
        Orderer_AtomicBroadcast.Method.Deliver.descriptor: .seekEnvelope,
    ]
}
