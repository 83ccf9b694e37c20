import ArgumentParser
import Foundation
import LoadGenerator
import NetworkConfig
import RPCTransport

/// `medrex bench run`: drives a running network through one peer's gateway and reports committed
/// and valid TPS, goodput, conflicts and latencies.
struct RunBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Drive a running network through a peer's gateway with a workload (put, transfer, hot) and report TPS and latencies.",
        discussion: "The channel must define the built-in chaincodes `kv` (put), `accounts` (transfer, hot) and, for --delta-writes, `counters` in the peers' peer.yaml."
    )

    @Option(help: "Crypto material directory written by `medrex crypto generate`.") var crypto: String
    @Option(help: "The client's organization (as named in network.yaml).") var org = "HospitalA"
    @Option(help: "The client's MSP id.") var mspID = "HospitalAMSP"
    @Option(help: "The client: a user or admin of that organization.") var user = "dr-carter"
    @Option(help: "The gateway peer's organization (its TLS CA).") var peerOrg = "HospitalA"
    @Option(help: "The gateway peer's address, host:port.") var peer = "127.0.0.1:7051"
    @Option(help: "Channel name.") var channel = "devchannel"
    @Option(help: "put, transfer, hot, or phi (PHI records stored by --user and read back by --reader, through the peer's PHI service).")
    var workload = "put"
    @Option(help: "phi: the patient (a user of --org) the records are about, who reads them.") var reader = "patient-alice"
    @Option(help: "Accounts of transfer/hot (default 1000 / 10).") var accounts: Int?
    @Flag(help: "transfer/hot: move amounts as commutative delta writes (chaincode `counters`), which never conflict and check no balance.")
    var deltaWrites = false
    @Option(help: "Concurrent clients, one transaction in flight each.") var clients = 64
    @Option(help: "Seconds to run (unless --transactions is given).") var duration: Double = 10
    @Option(help: "Stop after this many transactions instead of after --duration.") var transactions: Int?
    @Option(help: "stream (medrex.TransactionStream) or unary (Fabric Gateway calls).") var api = "stream"
    @Flag(help: "Print the report as JSON.") var json = false
    @Option(help: "Also write an SVG chart of committed TPS and p99 latency per second to this file.") var svg: String?
    @Flag(help: "No progress lines.") var quiet = false

    func run() async throws {
        if workload == "phi" { return try await runPhi() }
        guard let workload = Workload(name: self.workload, accounts: accounts, deltaWrites: deltaWrites) else {
            throw ValidationError(deltaWrites ? "--delta-writes applies to the transfer and hot workloads" : "--workload must be put, transfer or hot")
        }
        guard let api = LoadRun.API(rawValue: self.api) else { throw ValidationError("--api must be stream or unary") }
        guard let address = NodeAddress(peer) else { throw ValidationError("--peer must be host:port") }
        guard clients > 0 else { throw ValidationError("--clients must be at least 1") }
        guard duration.isFinite, duration > 0, duration <= 86_400 else { throw ValidationError("--duration must be more than 0 and at most 86400 seconds") }
        if let count = workload.accounts, count < 2 { throw ValidationError("--accounts must be at least 2") }
        let root = URL(fileURLWithPath: crypto)
        let member = CryptoMaterialLayout(root: root, organization: org).member(kind: .user, name: user)
        let signer = try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: mspID)
        let tls = MutualTLS(
            certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey,
            trustedCAs: [CryptoMaterialLayout(root: root, organization: peerOrg).tlsCACertificate])
        let runFor: Duration? = transactions == nil ? .milliseconds(Int(duration * 1000)) : nil
        let printLine: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        let progress = quiet || json ? nil : printLine
        let load = LoadRun(
            workload: workload, api: api, clients: clients, duration: runFor, transactions: transactions, channel: channel, peer: address,
            tls: tls, signer: signer, progress: progress)
        try await load.prepare()
        let report = try await load.run()
        if let svg { try Data(report.svg.utf8).write(to: URL(fileURLWithPath: svg)) }
        try output(report, text: report.text)
    }

    /// The `phi` workload: its own runner and report (puts and authorized gets, not transactions).
    private func runPhi() async throws {
        guard let address = NodeAddress(peer) else { throw ValidationError("--peer must be host:port") }
        guard clients > 0 else { throw ValidationError("--clients must be at least 1") }
        guard duration.isFinite, duration > 0, duration <= 86_400 else { throw ValidationError("--duration must be more than 0 and at most 86400 seconds") }
        let root = URL(fileURLWithPath: crypto)
        func participant(_ user: String) throws -> PhiLoadRun.Participant {
            let member = CryptoMaterialLayout(root: root, organization: org).member(kind: .user, name: user)
            return PhiLoadRun.Participant(
                signer: try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: mspID),
                tls: MutualTLS(
                    certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey,
                    trustedCAs: [CryptoMaterialLayout(root: root, organization: peerOrg).tlsCACertificate]))
        }
        let printLine: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        let load = PhiLoadRun(
            writer: try participant(user), reader: try participant(reader), clients: clients, duration: .milliseconds(Int(duration * 1000)),
            channel: channel, peer: address, progress: quiet || json ? nil : printLine)
        let report = try await load.run()
        try output(report, text: report.text)
    }

    /// Prints a report as text, or as JSON with `--json`.
    private func output(_ report: some Encodable, text: String) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(text)
        }
    }
}
