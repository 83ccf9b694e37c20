import Foundation
import NetworkSimulation
import Testing

/// A bounded number of seeds of the whole-network simulation (4 peers of 2 organizations, a solo
/// orderer, crashes, partitions and message faults); `scripts/simulate.sh --seeds N` runs many.
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

    /// The same seed makes the same run.
    @Test func aSeedReplaysTheSameRun() async {
        let first = await NetworkSimulation.run(seed: 4242)
        let second = await NetworkSimulation.run(seed: 4242)
        #expect(first.description == second.description)
    }
}
