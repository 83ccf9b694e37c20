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
        discussion: "The channel must define the built-in chaincodes `kv` (put) and `accounts` (transfer, hot) in the peers' peer.yaml."
    )

    @Option(help: "Crypto material directory written by `medrex crypto generate`.") var crypto: String
    @Option(help: "The client's organization (as named in network.yaml).") var org = "HospitalA"
    @Option(help: "The client's MSP id.") var mspID = "HospitalAMSP"
    @Option(help: "The client: a user or admin of that organization.") var user = "dr-carter"
    @Option(help: "The gateway peer's organization (its TLS CA).") var peerOrg = "HospitalA"
    @Option(help: "The gateway peer's address, host:port.") var peer = "127.0.0.1:7051"
    @Option(help: "Channel name.") var channel = "devchannel"
    @Option(help: "put, transfer or hot.") var workload = "put"
    @Option(help: "Accounts of transfer/hot (default 1000 / 10).") var accounts: Int?
    @Option(help: "Concurrent clients, one transaction in flight each.") var clients = 64
    @Option(help: "Seconds to run (unless --transactions is given).") var duration: Double = 10
    @Option(help: "Stop after this many transactions instead of after --duration.") var transactions: Int?
    @Option(help: "stream (medrex.TransactionStream) or unary (Fabric Gateway calls).") var api = "stream"
    @Flag(help: "Print the report as JSON.") var json = false
    @Flag(help: "No progress lines.") var quiet = false

    func run() async throws {
        guard let workload = Workload(name: self.workload, accounts: accounts) else { throw ValidationError("--workload must be put, transfer or hot") }
        guard let api = LoadRun.API(rawValue: self.api) else { throw ValidationError("--api must be stream or unary") }
        guard let address = NodeAddress(peer) else { throw ValidationError("--peer must be host:port") }
        guard clients > 0 else { throw ValidationError("--clients must be at least 1") }
        if case .transfer(let count) = workload, count < 2 { throw ValidationError("--accounts must be at least 2") }
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
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text)
        }
    }
}
