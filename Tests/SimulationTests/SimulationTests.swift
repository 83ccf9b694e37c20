import Foundation
import NetworkSimulation
import Testing

/// A bounded number of seeds of the whole-network simulation (4 peers of 2 organizations, a solo
/// orderer or 3 etcd-chain orderers, crashes, partitions, message faults and, with etcd, leader
/// loss); `scripts/simulate.sh --seeds N [--ordering etcd]` runs many.
/// `MEDREX_SIMULATION_SEED=S` runs one seed (the command a failure prints does the same).
@Suite struct SimulationTests {
    static var seeds: [UInt64] {
        if let text = ProcessInfo.processInfo.environment["MEDREX_SIMULATION_SEED"], let seed = UInt64(text) { return [seed] }
        return Array(1...32)
    }

    @Test(arguments: seeds)
    func aFaultyNetworkKeepsItsInvariants(seed: UInt64) async {
        let options = SimulationOptions()
        let report = await NetworkSimulation.run(seed: seed, options: options)
        #expect(report.passed, "\(report)\n\(report.violations.joined(separator: "\n"))\nreplay: \(NetworkSimulation.replayCommand(seed: seed, options: options))")
        // The run did something: transactions committed after the set-up, and faults happened.
        #expect(report.committedValid > 3, "\(report)")
        #expect(report.peerCrashes + report.ordererCrashes + report.partitions + report.dropped > 0, "\(report)")
    }

    static var etcdOptions: SimulationOptions {
        var options = SimulationOptions()
        options.ordering = .etcd
        return options
    }

    /// Three etcd-chain orderers over one in-memory etcd: leaders crash, stall past their lease
    /// and are cut off from etcd, and the invariants still hold.
    @Test(arguments: seeds)
    func aFaultyNetworkOrderedThroughEtcdKeepsItsInvariants(seed: UInt64) async {
        let report = await NetworkSimulation.run(seed: seed, options: Self.etcdOptions)
        #expect(report.passed, "\(report)\n\(report.violations.joined(separator: "\n"))\nreplay: \(NetworkSimulation.replayCommand(seed: seed, options: Self.etcdOptions))")
        #expect(report.committedValid > 3, "\(report)")
        #expect(report.leaderTerms >= 1, "\(report)")
    }

    /// Over the bounded seeds, leadership really is lost and stale leaders' appends really are
    /// refused (else the etcd runs would not test leader loss).
    @Test func etcdRunsLoseLeaders() async {
        var (terms, lost, refused) = (0, 0, 0)
        for seed in UInt64(1)...12 {
            let report = await NetworkSimulation.run(seed: seed, options: Self.etcdOptions)
            (terms, lost, refused) = (terms + report.leaderTerms, lost + report.leadershipsLost, refused + report.appendsRefused)
        }
        #expect(terms > 12 && lost > 0 && refused > 0, "leader terms \(terms), lost \(lost), envelopes of refused stale appends \(refused)")
    }

    /// The same seed makes the same run.
    @Test(arguments: [SimulationOptions(), etcdOptions])
    func aSeedReplaysTheSameRun(options: SimulationOptions) async {
        let first = await NetworkSimulation.run(seed: 4242, options: options)
        let second = await NetworkSimulation.run(seed: 4242, options: options)
        #expect(first.description == second.description)
    }
}
