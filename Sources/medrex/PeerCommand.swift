import ArgumentParser
import BuiltInChaincodes
import Foundation
import Logging
import NetworkConfig
import PeerDaemon
import Committer
import GatewayService
import NodeClients

struct PeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "peer", abstract: "Run a peer.", subcommands: [Start.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a peer from its peer.yaml; stops cleanly on SIGTERM or SIGINT.")

        @Option(help: "The peer's configuration file.") var config: String

        func run() async throws {
            let node = try PeerNode(configuration: try PeerConfiguration.load(file: config), builtInChaincodes: BuiltInChaincodes.all)
            try await runDaemon(node, logger: Logger(label: "medrex.peer")) { node.reloadTLS() }
        }
    }
}
