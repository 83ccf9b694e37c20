import ArgumentParser

@main
struct Medrex: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medrex",
        abstract: "Medrex: a permissioned ledger for healthcare networks.",
        subcommands: [CryptoCommand.self, ChannelCommand.self, PolicyCommand.self, PeerCommand.self, OrdererCommand.self, ChaincodeCommand.self, LedgerCommand.self, BenchCommand.self, PhiCommand.self, AccessCommand.self, AuditCommand.self, NetworkFuzzCommand.self, SimulateCommand.self, NetworkCommand.self, CACommand.self]
    )
}
