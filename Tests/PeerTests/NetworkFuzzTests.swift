import Foundation
import NetworkConfig
import NetworkFuzzing
import RPCTransport
import Testing

/// The network fuzzer against real processes (a solo orderer and two peers, HospitalB's with its
/// PHI service): a bounded run reaches every gRPC method the nodes serve, the nodes refuse much of
/// it with status codes, and every liveness check after every batch passes.
@Suite(.serialized) struct NetworkFuzzTests {
    static let seedDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Seeds")

    @Test func everyMethodIsFuzzedAndEveryNodeKeepsServing() async throws {
        var options = LocalTestNetwork.Options()
        options.phiOrganizations = ["HospitalB"]
        let network = try await LocalTestNetwork.start(options)
        defer { network.stopAll() }
        let recordings = network.work.appendingPathComponent("fuzz-recordings")
        var configuration = NetworkFuzzConfiguration(
            targets: Self.targets(network), tls: Self.clientTLS(network), signer: try network.signer(org: "HospitalA", user: "dr-carter"),
            admin: try network.signer(org: "HospitalA", user: "admin"), channel: network.channel, seed: 20_261_207, recordingDirectory: recordings)
        configuration.requestCountMax = 200
        configuration.batchSize = 50
        configuration.callTimeout = .milliseconds(500)
        configuration.seedDirectory = Self.seedDirectory
        let report = try await NetworkFuzzer(configuration).run()

        #expect(report.failure == nil, "\(report.summary)")
        #expect(report.requests == 200, "\(report.summary)")
        #expect(report.batches == 4 && report.livenessChecksPassed == (report.batches + 1) * 3, "\(report.summary)")
        let missed = Set(FuzzedMethod.all.map(\.name)).subtracting(report.requestsByMethod.filter { $0.value > 0 }.keys)
        #expect(missed.isEmpty, "methods never called: \(missed.sorted())")
        #expect(FuzzedMethod.all.count == 19 && !FuzzedMethod.all.contains { $0.input == .unknown }, "\(FuzzedMethod.all.map(\.name))")
        #expect(report.refusals > 0, "\(report.summary)")
        #expect(report.outcomes["invalidArgument", default: 0] > 0, "\(report.summary)")
        // Valid and re-signed requests get through too (a fuzzer refused at the door tests little).
        #expect(report.outcomes["ok", default: 0] > 0, "\(report.summary)")

        // A recording replays one request at a time, each followed by a liveness check; a request
        // for a node not configured goes to a node of its method's role.
        let broadcast = try #require(FuzzedMethod.all.first { $0.name == "orderer.AtomicBroadcast/Broadcast" })
        let processProposal = try #require(FuzzedMethod.all.first { $0.name == "protos.Endorser/ProcessProposal" })
        let recorded = [
            FuzzRequest(sequence: 1, target: "orderer0", method: broadcast, messages: [[0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]], ending: .complete),
            FuzzRequest(sequence: 2, target: "peer9.Elsewhere", method: processProposal, messages: [[0x0A, 0x02, 0x08]], ending: .complete),
        ]
        let replayed = try await NetworkFuzzer(configuration).replay(try FuzzRecording.parse(recorded.map(FuzzRecording.line).joined(separator: "\n")))
        #expect(replayed.failure == nil && replayed.requests == 2 && replayed.batches == 2, "\(replayed.summary)")
        #expect(replayed.outcomes["ok", default: 0] == 0, "\(replayed.summary)")
        for peer in network.peers { #expect(peer.process.process.isRunning) }
        #expect(network.ordererProcess.process.isRunning)
    }

    /// What the admin signs never carries a config block: Fabric's genesis block (a seed) and its
    /// CONFIG envelope are kept out of the admin's material, the other blocks stay in.
    @Test func configurationSeedsAreKeptFromTheAdmin() throws {
        let corpus = try SeedCorpus(directory: Self.seedDirectory)
        let genesis = Array(try Data(contentsOf: Self.seedDirectory.appendingPathComponent("block/fabric-block-0")))
        let configEnvelope = Array(try Data(contentsOf: Self.seedDirectory.appendingPathComponent("envelope/fabric-block0-tx0")))
        #expect(corpus.blocks.contains(genesis) && corpus.all.contains(configEnvelope))
        #expect(!corpus.withoutConfiguration.contains(genesis) && !corpus.withoutConfiguration.contains(configEnvelope))
        #expect(corpus.blocks.filter { corpus.withoutConfiguration.contains($0) }.count >= corpus.blocks.count - 2)
        #expect(corpus.withoutConfiguration.count >= corpus.all.count - 4)
    }

    /// A request written to a recording reads back the same, byte for byte.
    @Test func recordingsRoundTrip() throws {
        let method = try #require(FuzzedMethod.all.first { $0.name == "orderer.AtomicBroadcast/Broadcast" })
        let requests = [
            FuzzRequest(sequence: 7, target: "orderer0", method: method, messages: [[0x0A, 0xFF, 0x00], [], [0x80]], ending: .cancelWhileSending),
            FuzzRequest(sequence: 8, target: "peer0", method: method, messages: [], ending: .complete),
            FuzzRequest(sequence: 9, target: "peer0", method: method, messages: [[]], ending: .cancelBeforeResponse),
        ]
        let parsed = try FuzzRecording.parse("# comment\n" + requests.map(FuzzRecording.line).joined(separator: "\n"))
        #expect(parsed.map(\.sequence) == [7, 8, 9] && parsed.map(\.target) == ["orderer0", "peer0", "peer0"])
        #expect(parsed.map(\.messages) == requests.map(\.messages) && parsed.map(\.ending) == requests.map(\.ending))
        #expect(parsed.allSatisfy { $0.method == method })
        #expect(throws: NetworkFuzzError(.malformedRecording, "")) { try FuzzRecording.parse("1\tpeer0\tno.Such/Method\tcomplete\t0\t") }
    }

    static func targets(_ network: LocalTestNetwork) -> [FuzzTarget] {
        let orderer = FuzzTarget(
            name: "orderer0", role: .orderer, address: NodeAddress(host: "127.0.0.1", port: network.orderer.port),
            processID: network.ordererProcess.process.processIdentifier, logFile: network.ordererProcess.logFile)
        return [orderer] + network.peers.map { peer in
            FuzzTarget(
                name: "peer0.\(peer.organization)", role: .peer, address: NodeAddress(host: "127.0.0.1", port: peer.port),
                processID: peer.process.process.processIdentifier, logFile: peer.process.logFile)
        }
    }

    /// dr-carter's TLS certificate, trusting every organization's TLS CA.
    static func clientTLS(_ network: LocalTestNetwork) -> MutualTLS {
        let member = CryptoMaterialLayout(root: network.crypto, organization: "HospitalA").member(kind: .user, name: "dr-carter")
        return MutualTLS(
            certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey,
            trustedCAs: ["OrdererOrg", "HospitalA", "HospitalB"].map { CryptoMaterialLayout(root: network.crypto, organization: $0).tlsCACertificate })
    }
}
