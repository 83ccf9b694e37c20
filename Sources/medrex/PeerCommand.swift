import ArgumentParser
import Foundation
import LedgerNode
import NetworkConfig

struct PeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "peer", abstract: "Run a peer.", subcommands: [Start.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a peer from its peer.yaml; stops cleanly on SIGTERM or SIGINT.")

        @Option(help: "The peer's configuration file.") var config: String

        func run() async throws {
            let node = try PeerNode(configuration: try PeerConfiguration.load(file: config))
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
