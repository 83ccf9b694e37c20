import Foundation
import GRPCCore
import LedgerCore
import LedgerWire
import SwiftProtobuf
import Committer
import GatewayService
import NodeClients
import PhiService

/// `medrex.PeerAdmin`: joins channels and lists them, for admins of the peer's organization.
package struct PeerAdminService: Medrex_PeerAdmin.SimpleServiceProtocol {
    package let node: PeerNode

    package func joinChannel(request: Medrex_SignedAdminRequest, context: ServerContext) async throws -> Medrex_JoinChannelResponse {
        let admin = try RPCError.mapping { () throws(AdminRequestError) in try node.checkAdmin(request, now: Date()) }
        guard case .joinChannel(let join) = admin.body else { throw RPCError(code: .invalidArgument, message: "not a JoinChannel request") }
        let genesis: Common_Block
        do {
            genesis = try Common_Block(serializedBytes: join.genesisBlock)
        } catch {
            throw RPCError(code: .invalidArgument, message: "the genesis block does not decode: \(error)")
        }
        for chaincode in join.chaincodes where chaincode.name.isEmpty || chaincode.version.isEmpty || chaincode.name.contains(where: { $0 == " " || $0 == "\n" || $0 == "/" }) {
            throw RPCError(code: .invalidArgument, message: "chaincode '\(chaincode.name)' \(chaincode.version): a name and version without spaces or '/' are required")
        }
        do {
            let joined = try node.join(genesis: genesis, chaincodes: join.chaincodes.map { ($0.name, $0.version) })
            var response = Medrex_JoinChannelResponse()
            response.channelID = joined.channelID
            response.height = joined.height
            return response
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .failedPrecondition, message: "cannot join: \(error)")
        }
    }

    package func listChannels(request: Medrex_SignedAdminRequest, context: ServerContext) async throws -> Medrex_ListChannelsResponse {
        let admin = try RPCError.mapping { () throws(AdminRequestError) in try node.checkAdmin(request, now: Date()) }
        guard case .listChannels = admin.body else { throw RPCError(code: .invalidArgument, message: "not a ListChannels request") }
        var response = Medrex_ListChannelsResponse()
        response.channels = node.channels.map { channel in
            var info = Medrex_ChannelInfo()
            info.channelID = channel.channelID
            info.height = channel.height
            info.currentBlockHash = Data(channel.currentBlockHash)
            return info
        }
        return response
    }
}

/// Why an admin request was refused.
package enum AdminRequestErrorCode: String, DomainErrorCode {
    /// Not a `medrex.AdminRequest`.
    case malformed
    /// Not signed by a valid admin of the peer's organization.
    case notAnAdmin
    /// Its timestamp is too far from the peer's clock.
    case stale
}

package typealias AdminRequestError = DomainError<AdminRequestErrorCode>

extension RPCError {
    /// The admin service's gRPC status for each refusal.
    init(adminError error: AdminRequestError) {
        self.init(code: error.code == .malformed ? .invalidArgument : .permissionDenied, message: error.reason)
    }

    static func mapping<T>(_ body: () throws(AdminRequestError) -> T) throws(RPCError) -> T {
        do {
            return try body()
        } catch {
            throw RPCError(adminError: error)
        }
    }
}
