import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks.",
        subcommands: [RunBenchCommand.self, StateBenchCommand.self, EndorseBenchCommand.self, OrderBenchCommand.self]
    )
}
