import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Identity
import LedgerWire
import RPCTransport
import SwiftProtobuf

/// A client of a peer's `medrex.PeerAdmin` service; `admin` must be an admin of the peer's
/// organization.
package struct PeerAdminClient: Sendable {
    package let peer: NodeAddress
    package let tls: MutualTLS
    package let admin: SigningIdentity

    package init(peer: NodeAddress, tls: MutualTLS, admin: SigningIdentity) {
        self.peer = peer
        self.tls = tls
        self.admin = admin
    }

    /// Joins the channel of `genesis` with the chaincodes installed for it.
    package func joinChannel(genesis: Data, chaincodes: [(name: String, version: String)]) async throws -> Medrex_JoinChannelResponse {
        var join = Medrex_JoinChannel()
        join.genesisBlock = genesis
        join.chaincodes = chaincodes.map { chaincode in
            var installed = Medrex_InstalledChaincode()
            installed.name = chaincode.name
            installed.version = chaincode.version
            return installed
        }
        let request = try signed(.joinChannel(join))
        return try await withService { try await $0.joinChannel(request) }
    }

    package func listChannels() async throws -> [Medrex_ChannelInfo] {
        let request = try signed(.listChannels(Medrex_ListChannels()))
        return try await withService { try await $0.listChannels(request) }.channels
    }

    private func signed(_ body: Medrex_AdminRequest.OneOf_Body) throws -> Medrex_SignedAdminRequest {
        var request = Medrex_AdminRequest()
        request.identity = Data(admin.serialized)
        request.timestamp = Google_Protobuf_Timestamp(date: Date())
        request.body = body
        var signed = Medrex_SignedAdminRequest()
        signed.request = try request.serializedData()
        signed.signature = Data(try admin.sign(signed.request))
        return signed
    }

    private func withService<Result: Sendable>(_ body: (Medrex_PeerAdmin.Client<HTTP2ClientTransport.Posix>) async throws -> Result) async throws -> Result {
        try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: peer.host, port: peer.port), transportSecurity: tls.clientSecurity)) { client in
            try await body(Medrex_PeerAdmin.Client(wrapping: client))
        }
    }
}
