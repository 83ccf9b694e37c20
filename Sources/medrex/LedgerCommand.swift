import ArgumentParser
import Foundation
import WorldState

struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Inspect a channel's ledger on disk.",
        subcommands: [Verify.self]
    )

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read every block, check the hash chain, and compare the state with a replay of the blocks.",
            discussion: "Works on peer and orderer ledgers (an orderer's has blocks only) and opens them read-only: it changes nothing on disk."
        )

        @Option(name: .long, help: "The ledger directory (holds blocks/ and index/).")
        var data: String

        func run() throws {
            let report = LedgerVerifier.verify(directory: URL(fileURLWithPath: data))
            print("ledger:        \(report.kind.rawValue)")
            print("blocks:        \(report.blocks)")
            print("transactions:  \(report.transactions)")
            print("savepoint:     \(report.savepoint.map(String.init) ?? "none")")
            print("state entries: \(report.stateEntries)")
            print("state digest:  \(report.stateDigest.isEmpty ? "-" : report.stateDigest)")
            guard let problem = report.problem else {
                print(report.kind == .peer
                    ? "ledger verified: the chain is intact and the state matches the blocks"
                    : "ledger verified: the chain is intact (an orderer's ledger holds no state)")
                return
            }
            if let block = report.firstBadBlock { print("first bad block: \(block)") }
            print("DAMAGED: \(problem)")
            throw ExitCode(2)
        }
    }
}
