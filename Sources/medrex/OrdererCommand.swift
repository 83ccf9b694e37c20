import ArgumentParser
import Foundation
import NetworkConfig
import Orderer

struct OrdererCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "orderer", abstract: "Run an orderer.", subcommands: [Start.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a solo orderer from its orderer.yaml; stops cleanly on SIGTERM or SIGINT.")

        @Option(help: "The orderer's configuration file.") var config: String

        func run() async throws {
            let node = try OrdererNode(configuration: try OrdererConfiguration.load(file: config))
            let signals = [SIGTERM, SIGINT].map { signalNumber -> DispatchSourceSignal in
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber)
                source.setEventHandler { node.beginShutdown() }
                source.resume()
                return source
            }
            defer { signals.forEach { $0.cancel() } }
            try await node.run()
        }
    }
}
