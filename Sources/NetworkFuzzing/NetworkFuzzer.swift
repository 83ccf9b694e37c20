import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// Sends mutated requests to every gRPC method of running nodes, in batches, and after each batch
/// checks that every node still runs and serves (`LivenessProbe`). A node that fails ends the run:
/// the report names it and the requests since its last passed check are written to a file that
/// `replay` sends again, one request at a time.
package struct NetworkFuzzer: Sendable {
    package let configuration: NetworkFuzzConfiguration

    package init(_ configuration: NetworkFuzzConfiguration) throws(NetworkFuzzError) {
        try configuration.validate()
        self.configuration = configuration
    }

    /// Fuzzes until a bound is reached or a node fails; `progress` gets a line after each batch.
    /// Throws when a node does not serve before the first request, or a seed cannot be read.
    package func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> NetworkFuzzReport {
        let corpus = try configuration.seedDirectory.map { try SeedCorpus(directory: $0) } ?? SeedCorpus()
        progress("seed \(configuration.seed); \(corpus.count) seed files; \(configuration.targets.count) nodes")
        let factory = factory(joinBlocks: corpus.blocks)
        var generator = RequestGenerator(
            methods: configuration.methods, targets: configuration.targets, corpus: corpus, channel: configuration.channel, factory: factory)
        var random = FuzzRandom(seed: configuration.seed)
        var sent = 0
        let deadline = configuration.duration.map { ContinuousClock.now + $0 }
        return try await fuzz(factory: factory, concurrentCallsMax: configuration.concurrentCallsMax, deadline: deadline, progress: progress) {
            if let countMax = configuration.requestCountMax, sent >= countMax { return nil }
            let count = min(configuration.batchSize, (configuration.requestCountMax ?? Int.max) - sent)
            let valid = try factory.messages(now: Date(), random: &random)
            sent += count
            return (0..<count).map { _ in generator.next(valid: valid, random: &random) }
        }
    }

    /// Sends recorded requests one at a time, each followed by a liveness check, and stops at the
    /// first node failure: the request before it is the one that did it. A request for a node not
    /// configured goes to the first configured node of its method's role.
    package func replay(_ requests: [FuzzRequest], progress: @Sendable (String) -> Void = { _ in }) async throws -> NetworkFuzzReport {
        let names = Set(configuration.targets.map(\.name))
        var remaining = requests.compactMap { request -> FuzzRequest? in
            if names.contains(request.target) { return request }
            guard let target = configuration.targets.first(where: { $0.role == request.method.role }) else { return nil }
            return FuzzRequest(sequence: request.sequence, target: target.name, method: request.method, messages: request.messages, ending: request.ending)
        }[...]
        progress("replaying \(remaining.count) of \(requests.count) recorded requests")
        return try await fuzz(factory: factory(joinBlocks: []), concurrentCallsMax: 1, deadline: nil, progress: progress) {
            remaining.popFirst().map { [$0] }
        }
    }

    private func factory(joinBlocks: [[UInt8]]) -> ValidRequestFactory {
        ValidRequestFactory(
            signer: configuration.signer, admin: configuration.admin, channel: configuration.channel, chaincode: configuration.chaincode,
            joinBlocks: joinBlocks)
    }

    /// Sends the batches `nextBatch` makes (nil: done) until the deadline, checking every node
    /// after each batch.
    private func fuzz(
        factory: ValidRequestFactory, concurrentCallsMax: Int, deadline: ContinuousClock.Instant?, progress: @Sendable (String) -> Void,
        nextBatch: () throws -> [FuzzRequest]?
    ) async throws -> NetworkFuzzReport {
        let started = ContinuousClock.now
        var report = NetworkFuzzReport(seed: configuration.seed)
        let probe = LivenessProbe(factory: factory, tls: configuration.tls, timeout: configuration.livenessTimeout)
        for target in configuration.targets {
            if let problem = await probe.check(target) {
                throw NetworkFuzzError(.invalidConfiguration, "node \(target.name) (\(target.address)) does not serve before fuzzing: \(problem)")
            }
            report.livenessChecksPassed += 1
        }
        var clients: [String: GRPCClient<HTTP2ClientTransport.Posix>] = [:]
        for target in configuration.targets {
            clients[target.name] = GRPCClient(transport: try HTTP2ClientTransport.Posix(
                target: .ipv4(address: target.address.host, port: target.address.port), transportSecurity: configuration.tls.clientSecurity))
        }
        let senders = clients.mapValues { RequestSender(client: $0, callTimeout: configuration.callTimeout) }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for client in clients.values { group.addTask { try? await client.runConnections() } }
            defer { for client in clients.values { client.beginGracefulShutdown() } }
            while deadline.map({ ContinuousClock.now < $0 }) ?? true, let batch = try nextBatch(), !batch.isEmpty {
                let results = await send(batch, senders: senders, concurrentCallsMax: concurrentCallsMax, deadline: deadline)
                for (request, reply) in results { report.count(request, reply) }
                report.batches += 1
                if let failure = try await checkNodes(after: results.map(\.0), probe: probe, batch: report.batches) {
                    report.failure = failure
                    break
                }
                report.livenessChecksPassed += configuration.targets.count
                progress("batch \(report.batches): \(report.requests) requests, \(report.refusals) refused, \(report.livenessChecksPassed) liveness checks passed")
            }
            report.elapsed = ContinuousClock.now - started
            return report
        }
    }

    /// Sends `batch` with at most `concurrentCallsMax` calls in flight; stops starting calls at
    /// the deadline. A call answered `unavailable` does not end the batch: nodes send that status
    /// themselves (a PHI store error, an ordering service that refused), and calls to a node that
    /// is gone fail at once; the liveness check after the batch tells the two apart.
    /// The requests sent, with their outcomes, in the order of the batch.
    private func send(
        _ batch: [FuzzRequest], senders: [String: RequestSender], concurrentCallsMax: Int, deadline: ContinuousClock.Instant?
    ) async -> [(FuzzRequest, RequestSender.Reply)] {
        await withTaskGroup(of: (Int, RequestSender.Reply).self) { group in
            var outcomes: [Int: RequestSender.Reply] = [:]
            var next = 0
            var inFlight = 0
            var stopped = false
            while true {
                while !stopped, next < batch.count, inFlight < concurrentCallsMax {
                    if let deadline, ContinuousClock.now >= deadline {
                        stopped = true
                        break
                    }
                    let index = next
                    let request = batch[index]
                    guard let sender = senders[request.target] else { preconditionFailure("no client for node \(request.target)") }
                    group.addTask { (index, await sender.send(request)) }
                    next += 1
                    inFlight += 1
                }
                guard inFlight > 0, let (index, reply) = await group.next() else { break }
                inFlight -= 1
                outcomes[index] = reply
            }
            return outcomes.keys.sorted().map { (batch[$0], outcomes[$0]!) }
        }
    }

    /// Nil when every node serves; otherwise the failure, with the batch written to a file.
    private func checkNodes(after requests: [FuzzRequest], probe: LivenessProbe, batch: Int) async throws -> NetworkFuzzReport.Failure? {
        for target in configuration.targets {
            guard let problem = await probe.check(target) else { continue }
            let recording = configuration.recordingDirectory.appendingPathComponent("network-fuzz-seed\(configuration.seed)-batch\(batch).txt")
            let last = requests.last { $0.target == target.name }
            let header = [
                "# medrex network fuzzer: the requests of batch \(batch) (seed \(configuration.seed)), after which node \(target.name) failed",
                "# reason: \(problem.replacingOccurrences(of: "\n", with: " "))",
                "# last request sent to it: \(last.map { "#\($0.sequence) \($0.method.name)" } ?? "none")",
                "# sequence, node, method, ending, message count, messages in hex (comma-separated)",
            ]
            try FileManager.default.createDirectory(at: configuration.recordingDirectory, withIntermediateDirectories: true)
            try (header + requests.map(FuzzRecording.line)).joined(separator: "\n").appending("\n").write(to: recording, atomically: true, encoding: .utf8)
            return NetworkFuzzReport.Failure(
                node: target.name, reason: problem, recording: recording,
                lastRequest: last.map { "#\($0.sequence) \($0.method.name) (\($0.messages.count) messages, \($0.ending.rawValue))" },
                logTail: target.logFile.flatMap(Self.tail))
        }
        return nil
    }

    /// The last 60 lines of a log file.
    static func tail(_ file: URL) -> String? {
        guard let handle = try? FileHandle(forReadingFrom: file) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let window: UInt64 = 16 * 1024
        try? handle.seek(toOffset: size > window ? size - window : 0)
        guard let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).suffix(60).joined(separator: "\n")
    }
}
