import ArgumentParser
import Foundation
import LedgerWire
import NetworkConfig
import SwiftProtobuf

struct ChannelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "channel", abstract: "Channels.", subcommands: [Create.self])

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
