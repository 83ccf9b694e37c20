import ArgumentParser
import Foundation
import Identity
import NetworkConfig
import NetworkFuzzing
import RPCTransport

/// `medrex fuzz-network` (hidden): the network fuzzer against running nodes (Fuzz/README.md,
/// `scripts/fuzz.sh network SECONDS`).
struct NetworkFuzzCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz-network",
        abstract: "Send mutated requests to every gRPC method of running nodes and check after each batch that they still serve.",
        discussion: """
            A node is NAME=HOST:PORT, optionally followed by ,pid=PID (checked to be running) and ,log=FILE (its tail is \
            shown when the node fails). Exits 1 when a node dies or stops answering; the requests of that batch are written \
            to --recordings and can be sent again one by one with --replay.
            """,
        shouldDisplay: false)

    @Option(help: "Crypto material directory written by `medrex crypto generate`.") var crypto: String
    @Option(help: "The client's organization (as named in network.yaml).") var org: String
    @Option(help: "The client's MSP id.") var mspID: String
    @Option(help: "The client (a user of that organization who may read the channel).") var user: String
    @Option(help: "An admin of that organization: signs the liveness checks, half of the Deliver requests and the PeerAdmin requests.")
    var admin = "admin"
    @Option(help: "A peer: NAME=HOST:PORT[,pid=PID][,log=FILE] (repeatable).") var peer: [String] = []
    @Option(help: "An orderer: NAME=HOST:PORT[,pid=PID][,log=FILE] (repeatable).") var orderer: [String] = []
    @Option(help: "The channel the nodes serve.") var channel: String
    @Option(help: "A built-in chaincode defined on the channel.") var chaincode = "kv"
    @Option(help: "The seed of the run (default: a random one, printed).") var seed: UInt64?
    @Option(help: "Stop after this many requests.") var requests: Int?
    @Option(help: "Stop after this many seconds.") var seconds: Int?
    @Option(help: "Requests between two liveness checks.") var batch = 50
    @Option(help: "Calls in flight at once.") var concurrency = 4
    @Option(help: "Each call's deadline in milliseconds.") var callTimeoutMilliseconds = 1000
    @Option(help: "The libFuzzer seeds to mutate (Fuzz/Seeds).") var seeds = "Fuzz/Seeds"
    @Option(help: "Where a failing batch's requests are written.") var recordings = "."
    @Option(help: "Send the requests of a recording one by one (with a liveness check after each) instead of fuzzing.") var replay: String?

    func run() async throws {
        let root = URL(fileURLWithPath: crypto)
        let layout = CryptoMaterialLayout(root: root, organization: org)
        let member = layout.member(kind: .user, name: user)
        let targets = try peer.map { try Self.target($0, role: .peer) } + orderer.map { try Self.target($0, role: .orderer) }
        var configuration = NetworkFuzzConfiguration(
            targets: targets, tls: MutualTLS(certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey, trustedCAs: try Self.tlsCAs(root)),
            signer: try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: mspID),
            admin: try CryptoMaterialLoader.loadSigningIdentity(layout.member(kind: .user, name: admin).msp, mspID: mspID), channel: channel,
            seed: seed ?? UInt64.random(in: 0...UInt64.max), recordingDirectory: URL(fileURLWithPath: recordings))
        configuration.chaincode = chaincode
        configuration.requestCountMax = requests
        configuration.duration = seconds.map { .seconds($0) }
        configuration.batchSize = batch
        configuration.concurrentCallsMax = concurrency
        configuration.callTimeout = .milliseconds(callTimeoutMilliseconds)
        configuration.seedDirectory = FileManager.default.fileExists(atPath: seeds) ? URL(fileURLWithPath: seeds) : nil
        if replay != nil { configuration.requestCountMax = configuration.requestCountMax ?? Int.max }
        let report: NetworkFuzzReport
        do {
            let fuzzer = try NetworkFuzzer(configuration)
            if let replay {
                let text = try String(contentsOf: URL(fileURLWithPath: replay), encoding: .utf8)
                report = try await fuzzer.replay(try FuzzRecording.parse(text)) { print($0) }
            } else {
                report = try await fuzzer.run { print($0) }
            }
        } catch let error as NetworkFuzzError {
            throw CommandFailure(error.description)
        }
        print(report.summary)
        if report.failure != nil { throw ExitCode(1) }
    }

    /// NAME=HOST:PORT[,pid=PID][,log=FILE].
    static func target(_ text: String, role: FuzzedMethod.Role) throws -> FuzzTarget {
        let parts = text.split(separator: ",").map(String.init)
        guard let first = parts.first, let equals = first.firstIndex(of: "="), let address = NodeAddress(String(first[first.index(after: equals)...])) else {
            throw ValidationError("a node must be NAME=HOST:PORT[,pid=PID][,log=FILE], got '\(text)'")
        }
        var processID: Int32?
        var log: URL?
        for option in parts.dropFirst() {
            if option.hasPrefix("pid="), let value = Int32(option.dropFirst(4)) {
                processID = value
            } else if option.hasPrefix("log=") {
                log = URL(fileURLWithPath: String(option.dropFirst(4)))
            } else {
                throw ValidationError("unknown node option '\(option)' in '\(text)' (pid=PID or log=FILE)")
            }
        }
        return FuzzTarget(name: String(first[..<equals]), role: role, address: address, processID: processID, logFile: log)
    }

    /// Every organization's TLS CA in the crypto material: the client accepts any node of the network.
    static func tlsCAs(_ root: URL) throws -> [URL] {
        let organizations = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        let certificates = organizations.map { CryptoMaterialLayout(root: root, organization: $0).tlsCACertificate }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
        guard !certificates.isEmpty else { throw ValidationError("no TLS CA certificate under \(root.path)") }
        return certificates
    }
}
