import ArgumentParser
import Foundation
import RPCTransport
import GRPCCore
import LedgerWire
import NetworkConfig
import SwiftProtobuf
import PeerDaemon
import Committer
import GatewayService
import NodeClients

struct ChannelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "channel", abstract: "Channels.", subcommands: [Create.self, Join.self, List.self, Config.self, Update.self, SignUpdate.self, SubmitUpdate.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a channel's genesis block (Fabric-shaped config block) from the network description and its crypto material."
        )

        @Option(help: "The network description.") var config = "network-config/network.yaml"
        @Option(help: "The channel, as named in the network description.") var channel: String
        @Option(help: "Crypto material written by `medrex crypto generate`.") var crypto: String
        @Option(help: "Where to write the genesis block.") var output: String

        func run() throws {
            let network = try NetworkDescription.load(file: config)
            let block = try ChannelGenesis.makeBlock(network: network, channel: channel, crypto: URL(fileURLWithPath: crypto), timestamp: Date())
            let parsed = try ChannelConfig(block: block)
            try block.serializedData().write(to: URL(fileURLWithPath: output))
            print("genesis block of channel '\(parsed.channelID)' written to \(output)")
            print("  application organizations: \(parsed.applicationOrganizations.map(\.mspID).joined(separator: ", "))")
            print("  orderer organizations:     \(parsed.ordererOrganizations.map(\.mspID).joined(separator: ", ")) at \(parsed.ordererAddresses.joined(separator: ", "))")
            print("  consensus \(parsed.consensusType), batch \(parsed.batch.maxMessageCount) messages / \(parsed.batch.timeoutMilliseconds) ms")
            print("  endorsement policy: \(parsed.endorsementPolicy.map { "\($0)" } ?? "none")")
        }
    }
}

/// Which peer an admin addresses: the options `channel join` and `channel list` share.
struct PeerAdminOptions: ParsableArguments {
    @Option(help: "Crypto material directory written by `medrex crypto generate`.") var crypto: String
    @Option(help: "The peer's organization (as named in network.yaml); its admin signs.") var org: String
    @Option(help: "The organization's MSP id.") var mspID: String
    @Option(help: "The admin (a user with the admin role).") var user = "admin"
    @Option(help: "The peer's address, host:port.") var peer: String

    func client() throws -> PeerAdminClient {
        let root = URL(fileURLWithPath: crypto)
        let layout = CryptoMaterialLayout(root: root, organization: org)
        let member = layout.member(kind: .user, name: user)
        guard let address = NodeAddress(peer) else { throw ValidationError("--peer must be host:port") }
        return PeerAdminClient(
            peer: address,
            tls: MutualTLS(certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey, trustedCAs: [layout.tlsCACertificate]),
            admin: try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: mspID))
    }
}

extension ChannelCommand {
    struct Join: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join a running peer to a channel from its genesis block (the peer joins it again on every start)."
        )

        @OptionGroup var admin: PeerAdminOptions
        @Option(help: "The channel's genesis block (`medrex channel create`).") var genesis: String
        @Option(help: "A chaincode installed for this channel, NAME:VERSION (repeatable).") var chaincode: [String] = []

        func run() async throws {
            let chaincodes = try chaincode.map { text -> (name: String, version: String) in
                let parts = text.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ValidationError("--chaincode must be NAME:VERSION, got '\(text)'") }
                return (String(parts[0]), String(parts[1]))
            }
            let block: Data
            do {
                block = try Data(contentsOf: URL(fileURLWithPath: genesis))
            } catch {
                throw ValidationError("cannot read \(genesis): \(error.localizedDescription)")
            }
            do {
                let joined = try await admin.client().joinChannel(genesis: block, chaincodes: chaincodes)
                print("joined channel '\(joined.channelID)' (height \(joined.height))")
            } catch let error as RPCError {
                throw CommandFailure("the peer refused: \(error.message)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the channels a running peer has joined, with their heights.")

        @OptionGroup var admin: PeerAdminOptions

        func run() async throws {
            do {
                for channel in try await admin.client().listChannels() {
                    print("\(channel.channelID)\theight \(channel.height)\tcurrent block \(channel.currentBlockHash.map { String(format: "%02x", $0) }.joined())")
                }
            } catch let error as RPCError {
                throw CommandFailure("the peer refused: \(error.message)")
            }
        }
    }
}
