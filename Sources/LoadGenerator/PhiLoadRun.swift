import Foundation
import Histogram
import Identity
import RPCTransport
import Synchronization
import NodeClients

/// The `phi` workload of `medrex bench`: each client stores a small FHIR record through the PHI
/// service (encrypt, store, anchor committed) as the writer, then reads it back as the patient
/// (an `access request` committed and audited, release, decrypt, hash check). Both steps go
/// through the same peer, whose organization keeps the records.
package struct PhiLoadRun: Sendable {
    package struct Participant: Sendable {
        package let signer: SigningIdentity
        package let tls: MutualTLS

        package init(signer: SigningIdentity, tls: MutualTLS) {
            self.signer = signer
            self.tls = tls
        }
    }

    package let writer: Participant
    /// The patient the records are about, who reads them.
    package let reader: Participant
    package let clients: Int
    package let duration: Duration
    package let channel: String
    package let peer: NodeAddress
    package let progress: (@Sendable (String) -> Void)?

    package init(
        writer: Participant, reader: Participant, clients: Int, duration: Duration, channel: String, peer: NodeAddress,
        progress: (@Sendable (String) -> Void)?
    ) {
        self.writer = writer
        self.reader = reader
        self.clients = clients
        self.duration = duration
        self.channel = channel
        self.peer = peer
        self.progress = progress
    }

    package func run() async throws -> PhiLoadReport {
        let recorder = PhiLoadRecorder()
        let patient = PhiClient.personID(of: reader.signer)
        let custodian = writer.signer.mspID
        let runID = UInt32.random(in: 0...UInt32.max)
        let start = ContinuousClock.now
        let deadline = start + duration
        try await PhiClient.withConnection(peer: peer, tls: writer.tls, signer: writer.signer, channel: channel) { writing in
            try await PhiClient.withConnection(peer: peer, tls: reader.tls, signer: reader.signer, channel: channel) { reading in
                await withDiscardingTaskGroup { group in
                    for client in 0..<clients {
                        group.addTask {
                            var sequence = 0
                            while ContinuousClock.now < deadline {
                                sequence += 1
                                let id = "bench-\(String(runID, radix: 36))-\(client)-\(sequence)"
                                let record = Data(
                                    """
                                    {"resourceType":"Observation","id":"\(id)","status":"final",\
                                    "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},\
                                    "subject":{"reference":"Patient/bench","identifier":{"system":"urn:medrex:person","value":"\(patient)"}},\
                                    "valueQuantity":{"value":\(60 + sequence % 40),"unit":"beats/min"}}
                                    """.utf8)
                                let putStart = ContinuousClock.now
                                do {
                                    let stored = try await writing.put(json: record, patient: patient, custodian: custodian)
                                    recorder.recordPut(ContinuousClock.now - putStart)
                                    let getStart = ContinuousClock.now
                                    _ = try await reading.get(recordID: stored.recordID, version: stored.version)
                                    recorder.recordGet(ContinuousClock.now - getStart)
                                } catch {
                                    recorder.recordFailure(error)
                                }
                            }
                        }
                    }
                    if let progress {
                        group.addTask {
                            while ContinuousClock.now < deadline {
                                try? await Task.sleep(for: .seconds(1))
                                progress(recorder.progressLine(elapsed: ContinuousClock.now - start))
                            }
                        }
                    }
                }
            }
        }
        return recorder.report(clients: clients, elapsed: ContinuousClock.now - start)
    }
}

/// Figures of a `phi` bench run. Latencies in milliseconds; a get includes its access request's
/// commit.
package struct PhiLoadReport: Codable, Sendable {
    package var workload = "phi"
    package var clients: Int
    package var seconds: Double
    package var puts: Int
    package var gets: Int
    package var failed: Int
    package var failures: [String: Int]
    package var putsPerSecond: Double
    package var getsPerSecond: Double
    package var putLatency: LatencySummary
    package var getLatency: LatencySummary

    package var text: String {
        func format(_ value: Double) -> String { String(format: "%.1f", value) }
        func latency(_ summary: LatencySummary) -> String {
            "p50 \(format(summary.p50)) ms, p90 \(format(summary.p90)) ms, p99 \(format(summary.p99)) ms, max \(format(summary.max)) ms"
        }
        var lines = [
            "workload phi (put, then authorized get), \(clients) clients, \(format(seconds)) s",
            "  puts: \(puts) (\(format(putsPerSecond))/s), latency \(latency(putLatency))",
            "  gets: \(gets) (\(format(getsPerSecond))/s), latency \(latency(getLatency))",
            "  failed: \(failed)",
        ]
        for (reason, count) in failures.sorted(by: { $0.value > $1.value }).prefix(5) { lines.append("    \(count) × \(reason)") }
        return lines.joined(separator: "\n")
    }
}

final class PhiLoadRecorder: Sendable {
    private struct State {
        var puts = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        var gets = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        var failures: [String: Int] = [:]
    }

    private let state = Mutex(State())

    private static func microseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(0, duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000))
    }

    func recordPut(_ duration: Duration) { state.withLock { _ = $0.puts.record(Self.microseconds(duration)) } }
    func recordGet(_ duration: Duration) { state.withLock { _ = $0.gets.record(Self.microseconds(duration)) } }

    func recordFailure(_ error: any Error) {
        // The reason without ids, so that failures group.
        let reason = String("\(error)".prefix(120)).replacingOccurrences(of: #"bench-[a-z0-9-]+"#, with: "…", options: .regularExpression)
        state.withLock { $0.failures[reason, default: 0] += 1 }
    }

    func progressLine(elapsed: Duration) -> String {
        state.withLock { state in
            let seconds = Double(elapsed.components.seconds)
            return String(
                format: "%4.0f s  puts %6llu (%.1f/s)  gets %6llu (%.1f/s)  get p99 %.0f ms  failed %d", seconds, state.puts.totalCount,
                Double(state.puts.totalCount) / max(seconds, 1), state.gets.totalCount, Double(state.gets.totalCount) / max(seconds, 1),
                Double(state.gets.valueAtPercentile(99)) / 1000, state.failures.values.reduce(0, +))
        }
    }

    func report(clients: Int, elapsed: Duration) -> PhiLoadReport {
        state.withLock { state in
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return PhiLoadReport(
                clients: clients, seconds: seconds, puts: Int(state.puts.totalCount), gets: Int(state.gets.totalCount),
                failed: state.failures.values.reduce(0, +), failures: state.failures,
                putsPerSecond: Double(state.puts.totalCount) / seconds, getsPerSecond: Double(state.gets.totalCount) / seconds,
                putLatency: LatencySummary(state.puts), getLatency: LatencySummary(state.gets))
        }
    }
}
