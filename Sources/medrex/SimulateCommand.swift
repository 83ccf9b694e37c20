import ArgumentParser
import Foundation
import NetworkSimulation

/// `medrex simulate`: seeded runs of a whole network in one process with crashes, partitions and
/// message faults (`scripts/simulate.sh`); exits 1 when a run breaks an invariant.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run seeded simulations of a whole network (peers of several organizations, a solo orderer or etcd-chain orderers) with faults and check its invariants.",
        discussion: """
            Each seed runs the same network from scratch: the chaincode is defined through _lifecycle, clients transfer balances \
            between a few accounts, and crashes (storage losing its unsynchronized tail), partitions, dropped, duplicated, \
            reordered, repeated, out-of-order and damaged messages happen at random steps. After a healing phase every peer must \
            hold the orderer's chain with identical validation codes and state, no acknowledged envelope may be lost and no \
            transaction may be VALID twice. A failing seed is printed with the command that replays it.
            """)

    @Option(help: "The first seed.") var seed: UInt64 = 1
    @Option(help: "How many consecutive seeds to run from --seed.") var seeds: UInt64 = 1
    @Option(help: "Application organizations.") var organizations = 2
    @Option(help: "Peers of each organization.") var peersPerOrganization = 2
    @Option(help: "Scheduling steps of each run.") var steps = 300
    @Option(help: "Accounts the clients move balances between.") var accounts = 6
    @Flag(help: "No faults: crashes, partitions and damaged messages off.") var noFaults = false
    @Option(help: "How the network orders: solo (one orderer) or etcd (several orderers sharing an in-memory etcd, with leader loss).")
    var ordering: String = "solo"
    @Option(help: "Orderers of an etcd-ordered network.") var orderers = 3
    @Flag(help: "Print every run's summary, not only failures.") var verbose = false

    func validate() throws {
        guard (2...8).contains(organizations) else { throw ValidationError("--organizations must be 2...8") }
        guard (1...8).contains(peersPerOrganization) else { throw ValidationError("--peers-per-organization must be 1...8") }
        guard (0...100_000).contains(steps) else { throw ValidationError("--steps must be 0...100000") }
        guard (2...1000).contains(accounts) else { throw ValidationError("--accounts must be 2...1000") }
        guard SimulatedOrdering(rawValue: ordering) != nil else { throw ValidationError("--ordering must be solo or etcd") }
        guard (1...7).contains(orderers) else { throw ValidationError("--orderers must be 1...7") }
        guard seeds >= 1, seed.addingReportingOverflow(seeds - 1).overflow == false else { throw ValidationError("--seed + --seeds must stay within 64 bits") }
    }

    func run() async throws {
        var options = SimulationOptions()
        options.organizations = organizations
        options.peersPerOrganization = peersPerOrganization
        options.steps = steps
        options.accounts = accounts
        options.faults = !noFaults
        options.ordering = SimulatedOrdering(rawValue: ordering) ?? .solo
        options.orderers = orderers
        let start = ContinuousClock.now
        var failed: [UInt64] = []
        var totals = (blocks: UInt64(0), valid: 0, crashes: 0, partitions: 0, stateLost: 0, leaderTerms: 0, leadershipsLost: 0)
        for current in seed...(seed + seeds - 1) {
            let report = await NetworkSimulation.run(seed: current, options: options)
            totals.blocks += report.blocks
            totals.valid += report.committedValid
            totals.crashes += report.peerCrashes + report.ordererCrashes
            totals.leaderTerms += report.leaderTerms
            totals.leadershipsLost += report.leadershipsLost
            totals.partitions += report.partitions
            totals.stateLost += report.stateBlocksLost
            if !report.passed {
                failed.append(current)
                print(report)
                for violation in report.violations { print("  \(violation)") }
                print("  replay: \(NetworkSimulation.replayCommand(seed: current, options: options))")
            } else if verbose {
                print(report)
            }
        }
        let seconds = Double((ContinuousClock.now - start).components.seconds)
        print("\(seeds) seeds from \(seed) (\(options.arguments)): \(seeds - UInt64(failed.count)) passed, \(failed.count) failed; "
            + "\(totals.blocks) blocks, \(totals.valid) VALID transactions, \(totals.crashes) crashes (\(totals.stateLost) blocks of peer state lost and replayed), \(totals.partitions) partitions"
            + (options.ordering == .etcd ? ", \(totals.leaderTerms) leader terms (\(totals.leadershipsLost) lost)" : "") + "; \(Int(seconds)) s")
        if !failed.isEmpty {
            print("failed seeds: \(failed.map(String.init).joined(separator: " "))")
            throw ExitCode(1)
        }
    }
}
