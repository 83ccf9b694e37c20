import EtcdClient
import Foundation
import Identity
import LedgerWire
import NetworkConfig
import Orderer
import RPCTransport
import NodeClients

/// Orderer processes (`medrex orderer start`, this executable) of one etcd-ordered channel on
/// loopback, for `medrex bench order --consensus etcd`: started, SIGKILLed and stopped by PID.
final class OrdererProcessCluster: @unchecked Sendable {
    let ports: [Int]
    private let configs: [URL]
    private let logs: [URL]
    private let keys: EtcdLogKeys
    private let etcdEndpoints: [String]
    private let etcdTLS: MutualTLS
    private var processes: [Process?]
    private let lock = NSLock()

    init(
        work: URL, network: NetworkDescription, crypto: URL, genesis: URL, genesisHash: [UInt8], channel: String, ports: [Int], etcdEndpoints: [String],
        etcdTLS: MutualTLS
    ) throws {
        self.ports = ports
        self.etcdEndpoints = etcdEndpoints
        self.etcdTLS = etcdTLS
        keys = EtcdLogKeys(channel: channel, genesisHash: genesisHash)
        processes = Array(repeating: nil, count: ports.count)
        logs = ports.indices.map { work.appendingPathComponent("orderer\($0).log") }
        // The orderers' files, rendered as `medrex network render` writes them, for the etcd
        // cluster the bench script started.
        var options = NetworkRenderer.Options()
        options.channels = [channel]
        options.crypto = crypto.path
        options.externalEtcd = NetworkRenderer.ExternalEtcd(
            endpoints: etcdEndpoints, rootCAs: etcdTLS.trustedCAs.map(\.path), certificate: etcdTLS.certificate.path, privateKey: etcdTLS.privateKey.path)
        let nodes = work.appendingPathComponent("nodes")
        for file in try NetworkRenderer(network: network, options: options).render() {
            let url = nodes.appendingPathComponent(file.path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.contents.utf8).write(to: url)
        }
        let host = nodes.appendingPathComponent("127.0.0.1")
        try FileManager.default.copyItem(at: genesis, to: host.appendingPathComponent("\(channel).block"))
        configs = ports.indices.map { host.appendingPathComponent("orderer\($0).yaml") }
    }

    func start() throws {
        for index in ports.indices { try start(index) }
    }

    private func start(_ index: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["orderer", "start", "--config", configs[index].path]
        if !FileManager.default.fileExists(atPath: logs[index].path) { _ = FileManager.default.createFile(atPath: logs[index].path, contents: nil) }
        let log = try FileHandle(forWritingTo: logs[index])
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? log.close()
        lock.withLock { processes[index] = process }
    }

    /// Sends `signal` to orderer `index` and waits (polling, at most 30 s) until it exited; its status.
    @discardableResult
    private func kill(_ index: Int, signal: Int32) -> Int32 {
        guard let process = lock.withLock({ processes[index] }) else { return 0 }
        if process.isRunning { Foundation.kill(process.processIdentifier, signal) }
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            while process.isRunning { usleep(10_000) }
            return -1
        }
        return process.terminationStatus
    }

    /// SIGTERM to every orderer still running; their exit statuses.
    @discardableResult
    func stop() -> [Int32] {
        ports.indices.map { kill($0, signal: SIGTERM) }
    }

    /// Waits (at most 60 s) until every orderer acknowledges a broadcast.
    func waitUntilEveryOrdererAcknowledges(clients: [OrdererClient], signer: SigningIdentity, probe: (Int) throws -> Common_Envelope) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        for (index, client) in clients.enumerated() {
            var acknowledged = false
            while !acknowledged {
                guard ContinuousClock.now < deadline else {
                    throw OrdererProcessClusterError("orderer \(index) did not acknowledge a broadcast within 60 s; see \(logs[index].path)")
                }
                acknowledged = (try? await client.broadcast([try probe(index)]))?.first?.status == .success
                if !acknowledged { try await Task.sleep(for: .milliseconds(200)) }
            }
        }
    }

    /// SIGKILLs the leader while a follower is sent one envelope every 10 ms; prints the time until
    /// another orderer leads, until the next block is in the log, and until the follower
    /// acknowledges again.
    func measureLeaderFailover(clients: [OrdererClient], signer: SigningIdentity, probe: @escaping @Sendable (Int) throws -> Common_Envelope) async throws {
        let etcd = try EtcdClient(endpoints: etcdEndpoints, tls: etcdTLS)
        defer { Task { await etcd.close() } }
        guard let leaderValue = try await etcd.get(keys.leader), let leader = ports.firstIndex(where: { "127.0.0.1:\($0)" == String(decoding: leaderValue.value, as: UTF8.self) }) else {
            throw OrdererProcessClusterError("no orderer of this cluster leads")
        }
        let follower = clients[(leader + 1) % clients.count]
        let heightBefore = try await logHeight(etcd)
        let killed = ContinuousClock.now
        kill(leader, signal: SIGKILL)
        let trickle = Task { () -> Duration? in
            var attempt = 0
            while ContinuousClock.now - killed < .seconds(30) {
                attempt += 1
                if (try? await follower.broadcast([try probe(attempt)]))?.first?.status == .success { return ContinuousClock.now - killed }
                try await Task.sleep(for: .milliseconds(10))
            }
            return nil
        }
        var newLeader: Duration?
        var nextBlock: Duration?
        while ContinuousClock.now - killed < .seconds(30), nextBlock == nil {
            if newLeader == nil, let value = try? await etcd.get(keys.leader), value.value != leaderValue.value { newLeader = ContinuousClock.now - killed }
            if let height = try? await logHeight(etcd), height > heightBefore { nextBlock = ContinuousClock.now - killed }
            try await Task.sleep(for: .milliseconds(5))
        }
        let acknowledged = try await trickle.value
        func text(_ duration: Duration?) -> String { duration.map { String(format: "%.2f s", $0.seconds) } ?? "none within 30 s" }
        print("leader failover (leader SIGKILLed, lease TTL \(EtcdChainTiming().leaseTTLSeconds) s):")
        print("  kill → another orderer holds the leader key: \(text(newLeader))")
        print("  kill → next block appended to the log:       \(text(nextBlock))")
        print("  kill → a follower acknowledges a broadcast:  \(text(acknowledged))")
    }

    /// The newest block number in the etcd log plus one (compaction deletes a prefix of the blocks).
    private func logHeight(_ etcd: EtcdClient) async throws -> UInt64 {
        let blocks = try await etcd.range(.interval(from: keys.block(0), to: keys.blocksEnd), limit: 1)
        guard let first = blocks.keyValues.first.flatMap({ keys.blockNumber(of: $0.key) }) else { return 0 }
        return first + UInt64(blocks.count)
    }
}

/// Why the orderer processes of a benchmark could not be run.
struct OrdererProcessClusterError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
