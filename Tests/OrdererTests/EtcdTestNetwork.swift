import EtcdClient
import Foundation
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig
import RPCTransport
import SwiftProtobuf
import Testing
import TestSupport
import NodeClients

@testable import Orderer

/// A `medrex orderer start` process, started, SIGKILLed and restarted by PID; its output goes to a
/// log file. Waits poll instead of `waitUntilExit`, which spins a CPU on Linux.
final class OrdererDaemon: @unchecked Sendable {
    let config: URL
    let port: Int
    let operationsPort: Int
    let logFile: URL
    private var process: Process?
    private let lock = NSLock()

    init(config: URL, port: Int, operationsPort: Int, logFile: URL) {
        self.config = config
        self.port = port
        self.operationsPort = operationsPort
        self.logFile = logFile
    }

    func start() throws {
        let process = Process()
        process.executableURL = ChildProcess.medrex
        process.arguments = ["orderer", "start", "--config", config.path]
        if !FileManager.default.fileExists(atPath: logFile.path) { _ = FileManager.default.createFile(atPath: logFile.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: logFile)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try lock.withLock {
            try process.run()
            self.process = process
        }
        try? handle.close()
    }

    var isRunning: Bool { lock.withLock { process?.isRunning ?? false } }

    /// Sends `signal` and waits (at most 30 s) until the process is gone.
    func kill(signal: Int32) {
        guard let process = lock.withLock({ process }), process.isRunning else { return }
        Foundation.kill(process.processIdentifier, signal)
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
    }

    /// SIGTERM, then the exit status; SIGKILL (and -1) when it has not stopped within 30 s.
    @discardableResult
    func stop() -> Int32 {
        guard let process = lock.withLock({ process }) else { return 0 }
        guard process.isRunning else { return process.terminationStatus }
        kill(signal: SIGTERM)
        guard !process.isRunning else {
            kill(signal: SIGKILL)
            return -1
        }
        return process.terminationStatus
    }

    /// The end of the log, and the first crash report in it if there is one.
    var logTail: String {
        let lines = ((try? String(contentsOf: logFile, encoding: .utf8)) ?? "").split(separator: "\n")
        // The start of a crash report: Swift's runtime error, or the backtracer's header.
        let crash = lines.firstIndex { $0.contains("Fatal error") || $0.contains("💣") || $0.contains("Program crashed") || $0.contains("*** Signal") }
        let crashReport = crash.map { lines[max(0, $0 - 3)..<min(lines.count, $0 + 40)].joined(separator: "\n") + "\n...\n" } ?? ""
        return crashReport + lines.suffix(30).joined(separator: "\n")
    }
}

/// Three orderers of the sample network (`network-config/network.yaml`, channel `healthchannel`,
/// consensus etcd, small blocks) over a throwaway 3-member etcd cluster, on free loopback ports.
struct EtcdTestNetwork: Sendable {
    let work: URL
    let crypto: URL
    let genesis: URL
    let etcd: EtcdCluster
    let orderers: [OrdererDaemon]

    /// Writes the network's files as an operator would: network.yaml (the sample's orderers and
    /// etcd members on free loopback ports, smaller blocks), its crypto material, the genesis block
    /// and every orderer's file from `medrex network render`. Starts nothing. Without `etcd`, the
    /// orderers' files lose their `etcd` section (a misconfiguration the orderer must refuse).
    static func prepare(etcd: Bool) async throws -> PreparedFiles {
        let repository = EtcdOrderingProcessTests.repository
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-etcd-ordering-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        var ports = Set<Int>()
        while ports.count < 12 { ports.insert(try ChildProcess.freePort()) }
        let port = Array(ports)
        var sample = try String(contentsOf: repository.appendingPathComponent("network-config/network.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "maxMessageCount: 500", with: "maxMessageCount: 100")
            .replacingOccurrences(of: "timeout: 250ms", with: "timeout: 50ms")
            .replacingOccurrences(of: "absoluteMaxBytes: 10485760", with: "absoluteMaxBytes: 1048576")
            .replacingOccurrences(of: "preferredMaxBytes: 2097152", with: "preferredMaxBytes: 524288")
        for (index, (ordererPort, operationsPort)) in [(7050, 9440), (7060, 9441), (7070, 9442)].enumerated() {
            sample = sample.replacingOccurrences(
                of: "{ name: orderer\(index), port: \(ordererPort), operationsPort: \(operationsPort) }",
                with: "{ name: orderer\(index), port: \(port[2 * index]), operationsPort: \(port[2 * index + 1]) }")
        }
        for (index, (clientPort, peerPort)) in [(2379, 2380), (2479, 2480), (2579, 2580)].enumerated() {
            sample = sample.replacingOccurrences(
                of: "{ name: etcd\(index), clientPort: \(clientPort), peerPort: \(peerPort) }",
                with: "{ name: etcd\(index), clientPort: \(port[6 + 2 * index]), peerPort: \(port[7 + 2 * index]) }")
        }
        let networkFile = work.appendingPathComponent("network.yaml")
        try sample.write(to: networkFile, atomically: true, encoding: .utf8)
        let network = try NetworkDescription.load(file: networkFile.path)
        let crypto = work.appendingPathComponent("crypto")
        _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: crypto, force: false)
        let host = work.appendingPathComponent("nodes/127.0.0.1")
        try FileManager.default.createDirectory(at: host, withIntermediateDirectories: true)
        let genesis = host.appendingPathComponent("healthchannel.block")
        for command in [
            ["channel", "create", "--config", networkFile.path, "--channel", "healthchannel", "--crypto", crypto.path, "--output", genesis.path],
            ["network", "render", "--config", networkFile.path, "--channel", "healthchannel", "--crypto", crypto.path, "--output", work.appendingPathComponent("nodes").path],
        ] {
            let result = try await ChildProcess.run(ChildProcess.medrex, command)
            guard result.status == 0 else { throw EtcdClusterErrorText("medrex \(command[0]) \(command[1]) failed: \(result.output)") }
        }
        let orderers = try (0..<3).map { index in
            let config = host.appendingPathComponent("orderer\(index).yaml")
            if !etcd {
                let text = try String(contentsOf: config, encoding: .utf8)
                let kept = text.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
                    !line.hasPrefix("etcd:") && !line.hasPrefix("  endpoints:") && !line.hasPrefix("  tls: { rootCAs") && !line.hasPrefix("  advertise:")
                }
                try kept.joined(separator: "\n").write(to: config, atomically: true, encoding: .utf8)
            }
            return OrdererDaemon(config: config, port: port[2 * index], operationsPort: port[2 * index + 1], logFile: work.appendingPathComponent("orderer\(index).log"))
        }
        let ordererOrg = CryptoMaterialLayout(root: crypto, organization: "OrdererOrg")
        let members = network.etcdMembers.map { member in
            let tls = crypto.appendingPathComponent("OrdererOrg/etcd/\(member.name)/tls")
            return EtcdCluster.Described(
                name: member.name, clientPort: member.clientPort, peerPort: member.peerPort,
                certificate: tls.appendingPathComponent("cert.crt"), privateKey: tls.appendingPathComponent("key.pem"))
        }
        // The test's own etcd client: the admin's TLS pair, from the CA etcd trusts.
        let admin = ordererOrg.member(kind: .orderer, name: "orderer0")
        let etcdClientTLS = MutualTLS(certificate: admin.tlsCertificate, privateKey: admin.tlsPrivateKey, trustedCAs: [ordererOrg.tlsCACertificate])
        return PreparedFiles(work: work, crypto: crypto, genesis: genesis, orderers: orderers, etcdMembers: members, etcdTrustedCA: ordererOrg.tlsCACertificate, etcdClientTLS: etcdClientTLS)
    }

    /// The files of a network, nothing started.
    struct PreparedFiles {
        let work: URL
        let crypto: URL
        let genesis: URL
        let orderers: [OrdererDaemon]
        let etcdMembers: [EtcdCluster.Described]
        let etcdTrustedCA: URL
        let etcdClientTLS: MutualTLS

        func removeFiles() { try? FileManager.default.removeItem(at: work) }
    }

    /// Starts the etcd cluster and the orderers of `starting` (all three by default).
    static func start(starting: [Int] = [0, 1, 2]) async throws -> EtcdTestNetwork {
        // Another process of the parallel test run may take a free port between its choice and
        // etcd's bind: a network that does not come up is prepared again once, on new ports.
        var attempt = 1
        var prepared = try await prepare(etcd: true)
        let cluster: EtcdCluster
        while true {
            do {
                cluster = try await EtcdCluster.start(
                    describedMembers: prepared.etcdMembers, trustedCA: prepared.etcdTrustedCA, clientTLS: prepared.etcdClientTLS)
                break
            } catch {
                prepared.removeFiles()
                guard attempt < 2 else { throw error }
                print("etcd cluster did not start (\(error)); preparing the network again on new ports")
                attempt += 1
                prepared = try await prepare(etcd: true)
            }
        }
        let network = EtcdTestNetwork(work: prepared.work, crypto: prepared.crypto, genesis: prepared.genesis, etcd: cluster, orderers: prepared.orderers)
        do {
            for index in starting { try network.orderers[index].start() }
        } catch {
            network.stop()
            throw error
        }
        return network
    }

    /// Stops every process it started (orderers by SIGKILL if still running, etcd) and removes the files.
    func stop() {
        for orderer in orderers { orderer.kill(signal: SIGKILL) }
        etcd.stop()
        // MEDREX_KEEP_LOGS=DIR keeps the orderers' logs for a look after the run.
        if let keep = ProcessInfo.processInfo.environment["MEDREX_KEEP_LOGS"] {
            try? FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
            for orderer in orderers {
                try? FileManager.default.copyItem(atPath: orderer.logFile.path, toPath: "\(keep)/\(UUID().uuidString.prefix(4))-\(orderer.logFile.lastPathComponent)")
            }
        }
        try? FileManager.default.removeItem(at: work)
    }

    /// A client identity of HospitalA or HospitalB with its TLS settings for the orderers.
    func client(_ user: String) throws -> (signer: SigningIdentity, tls: MutualTLS) {
        let organization = ["dr-carter", "nurse-ng"].contains(user) ? "HospitalA" : "HospitalB"
        let member = CryptoMaterialLayout(root: crypto, organization: organization).member(kind: .user, name: user)
        let tls = MutualTLS(
            certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey,
            trustedCAs: [CryptoMaterialLayout(root: crypto, organization: "OrdererOrg").tlsCACertificate])
        return (try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: "\(organization)MSP"), tls)
    }

    /// The channel's keys in etcd (named after the genesis block).
    var keys: EtcdLogKeys {
        get throws {
            let genesisBlock = try Common_Block(serializedBytes: try Data(contentsOf: genesis))
            return EtcdLogKeys(channel: "healthchannel", genesisHash: genesisBlock.header.hash)
        }
    }

    func ordererClient(_ index: Int, tls: MutualTLS) -> OrdererClient {
        OrdererClient(host: "127.0.0.1", port: orderers[index % orderers.count].port, tls: tls)
    }

    func ordererMSP() throws -> MembershipServiceProvider {
        try MembershipServiceProvider(CryptoMaterialLoader.loadMSP(
            CryptoMaterialLayout(root: crypto, organization: "OrdererOrg").organizationMSP, mspID: "OrdererMSP"))
    }

    /// A signed endorser transaction writing one key, unique per `index`.
    func envelope(_ signer: SigningIdentity, _ index: Int) throws -> Common_Envelope {
        var builder = EndorserTransactionBuilder(
            channelID: "healthchannel", chaincodeName: "cc", creator: Data(signer.serialized),
            nonce: Data((0..<24).map { _ in UInt8.random(in: 0...255) }), timestamp: Date())
        var set = Kvrwset_KVRWSet()
        var write = Kvrwset_KVWrite()
        write.key = "k\(index)"
        write.value = Data(repeating: 7, count: 100)
        set.writes = [write]
        builder.readWriteSets = [("cc", set)]
        return try builder.envelope { Data(try signer.sign($0)) }
    }

    /// Waits until each orderer answers a broadcast with SUCCESS (a leader is elected and forwarding works).
    func waitUntilEveryOrdererAcknowledges(within timeout: Duration, only indices: [Int] = [0, 1, 2]) async throws {
        let (signer, tls) = try client("dr-carter")
        let deadline = ContinuousClock.now + timeout
        for index in indices {
            var acknowledged = false
            while !acknowledged, ContinuousClock.now < deadline {
                guard orderers[index].isRunning else { throw EtcdClusterErrorText("orderer \(index) exited:\n\(orderers[index].logTail)") }
                acknowledged = (try? await ordererClient(index, tls: tls).broadcast([try envelope(signer, -1 - index)]))?.first?.status == .success
                if !acknowledged { try await Task.sleep(for: .milliseconds(200)) }
            }
            guard acknowledged else { throw EtcdClusterErrorText("orderer \(index) did not acknowledge a broadcast within \(timeout):\n\(orderers[index].logTail)") }
        }
    }

    /// The index of the orderer the leader key names; nil when none leads.
    func leaderIndex(_ client: EtcdClient) async throws -> Int? {
        guard let leader = try await client.get(try keys.leader) else { return nil }
        let endpoint = String(decoding: leader.value, as: UTF8.self)
        return orderers.firstIndex { "127.0.0.1:\($0.port)" == endpoint }
    }

    /// The number of the newest block in the etcd log, plus one (0 when the log is empty).
    func logHeight(_ client: EtcdClient) async throws -> UInt64 {
        let keys = try keys
        // Compaction deletes a prefix of the blocks: the first block's number plus their count.
        let blocks = try await client.range(.interval(from: keys.block(0), to: keys.blocksEnd), limit: 1)
        guard let first = blocks.keyValues.first.flatMap({ keys.blockNumber(of: $0.key) }) else { return 0 }
        return first + UInt64(blocks.count)
    }

    /// Waits until every orderer reports the same persisted height as the log's, unchanged for a
    /// second; returns it.
    func waitUntilOrderersAgree(_ client: EtcdClient, within timeout: Duration) async throws -> UInt64 {
        let keys = try keys
        let deadline = ContinuousClock.now + timeout
        var agreed: (height: UInt64, since: ContinuousClock.Instant)?
        var last = ""
        while ContinuousClock.now < deadline {
            let log = try await logHeight(client)
            let heights = try await orderers.asyncMap { orderer -> UInt64? in
                try await client.get(keys.persisted(by: "127.0.0.1:\(orderer.port)")).flatMap { UInt64(String(decoding: $0.value, as: UTF8.self)) }
            }
            last = "log \(log), orderers \(heights)"
            if heights.allSatisfy({ $0 == log }) {
                if let agreed, agreed.height == log {
                    if ContinuousClock.now - agreed.since >= .seconds(1) { return log }
                } else {
                    agreed = (log, ContinuousClock.now)
                }
            } else {
                agreed = nil
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw EtcdClusterErrorText("the orderers did not reach the log's height within \(timeout): \(last)\n\(orderers.map(\.logTail).joined(separator: "\n---\n"))")
    }
}

/// A test setup failure with its explanation.
struct EtcdClusterErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
