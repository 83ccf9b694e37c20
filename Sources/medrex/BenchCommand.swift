import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks.",
        subcommands: [StateBenchCommand.self, EndorseBenchCommand.self, OrderBenchCommand.self]
    )
}
