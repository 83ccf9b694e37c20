import ArgumentParser
import Foundation
import Logging
import NetworkConfig
import Orderer

struct OrdererCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "orderer", abstract: "Run an orderer.", subcommands: [Start.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start an orderer (solo or etcd channels) from its orderer.yaml; stops cleanly on SIGTERM or SIGINT.")

        @Option(help: "The orderer's configuration file.") var config: String

        func run() async throws {
            let node = try OrdererNode(configuration: try OrdererConfiguration.load(file: config))
            try await runDaemon(node, logger: Logger(label: "medrex.orderer")) { node.reloadTLS() }
        }
    }
}
