import Endorser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig
import Orderer
import RPCTransport
import Testing
import TestSupport
import WorldState
@testable import Committer
@testable import GatewayService
@testable import NodeClients
@testable import PeerDaemon
@testable import PhiService


/// The whole pipeline with real processes and mutual TLS: a solo orderer and one peer each of
/// HospitalA and HospitalB (endorser and committer), a channel whose chaincode policy needs both
/// hospitals, and the example chaincode. Transactions go through the gateway, or are endorsed and
/// broadcast by hand to reach each invalid case; afterwards both peers' ledgers hold identical
/// blocks, the expected validation codes and equal state digests.
@Suite(.serialized) struct PipelineEndToEndTests {
    @Test func endorseOrderValidateAndCommitOnTwoPeers() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        let chaincode = "asset-transfer"
        let channel = network.channel

        // Lifecycle from the CLI: only an organization's admin approves, and a definition a
        // majority has not approved is not committed.
        let cli = ["--crypto", network.crypto.path, "--peer-org", "HospitalA", "--peer", "127.0.0.1:\(network.peers[0].port)", "--channel", channel,
                   "--name", "other", "--version", "1.0", "--sequence", "1"]
        let notAdmin = try await ChildProcess.run(ChildProcess.medrex, ["chaincode", "approve", "--org", "HospitalA", "--msp-id", "HospitalAMSP", "--user", "dr-carter"] + cli)
        #expect(notAdmin.status != 0 && notAdmin.output.contains("only an admin"), "\(notAdmin.output)")
        let approved = try await ChildProcess.run(ChildProcess.medrex, ["chaincode", "approve", "--org", "HospitalA", "--msp-id", "HospitalAMSP", "--user", "admin"] + cli)
        #expect(approved.status == 0 && approved.output.contains("VALID"), "\(approved.output)")
        let prematureCommit = try await ChildProcess.run(ChildProcess.medrex, ["chaincode", "commit", "--org", "HospitalA", "--msp-id", "HospitalAMSP", "--user", "admin"] + cli)
        #expect(prematureCommit.status != 0 && prematureCommit.output.contains("1 of the 2 approvals"), "\(prematureCommit.output)")
        let firstBlock = try await network.height(peer: 1)

        // 1. Through the gateway: committed VALID, and both peers report it.
        let committedTxID = try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
            let txID = try await gateway.submit(channel: channel, chaincode: chaincode, arguments: ["create", "asset-1", "alice", "100"])
            let status = try await gateway.commitStatus(channel: channel, transactionID: txID)
            #expect(status.result == .valid)
            return txID
        }
        let seenByB = try await network.withGateway(peer: 1, user: "lab-tech-lee") { gateway in
            try await gateway.commitStatus(channel: channel, transactionID: committedTxID)
        }
        #expect(seenByB.result == .valid)
        let read = try await network.withGateway(peer: 1, user: "lab-tech-lee") { gateway in
            try await gateway.evaluate(channel: channel, chaincode: chaincode, arguments: ["read", "asset-1"])
        }
        #expect(String(decoding: read.payload, as: UTF8.self) == #"{"id":"asset-1","owner":"alice","value":100}"#)

        // The peer's Deliver service: filtered blocks with codes and the event (payload stripped);
        // the gateway's event stream: the event with its payload.
        let filtered = try await network.deliverFiltered(peer: 1, from: 0, to: firstBlock)
        #expect(filtered.map(\.number) == Array(0...firstBlock))
        let created = try #require(filtered.last?.filteredTransactions.first)
        #expect(created.txid == committedTxID && created.txValidationCode == .valid)
        #expect(created.transactionActions.chaincodeActions.first?.chaincodeEvent.eventName == "AssetCreated")
        #expect(created.transactionActions.chaincodeActions.first?.chaincodeEvent.payload.isEmpty == true)
        let events = try await network.chaincodeEvents(peer: 0, chaincode: chaincode, fromBlock: 0)
        #expect(events.blockNumber == firstBlock && events.events.map(\.txID) == [committedTxID])
        #expect(events.events.first.map { String(decoding: $0.payload, as: UTF8.self) } == "asset-1")

        // A proposal the chaincode refuses is reported by the gateway, and nothing is ordered.
        await #expect(throws: RPCError.self) {
            try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
                try await gateway.submit(channel: channel, chaincode: chaincode, arguments: ["read", "no-such-asset"])
            }
        }

        var expected: [String: Protos_TxValidationCode] = [committedTxID: .valid]
        let carter = try network.signer(org: "HospitalA", user: "dr-carter")

        // 2. Endorsed by HospitalA only: the chaincode policy needs both.
        let onlyA = try await network.endorsedEnvelope(["create", "asset-2", "bob", "5"], by: [0], creator: carter)
        // 3. Two transfers of one asset in one block: the second read a stale version.
        let transfer1 = try await network.endorsedEnvelope(["transfer", "asset-1", "bob"], by: [0, 1], creator: carter)
        let transfer2 = try await network.endorsedEnvelope(["transfer", "asset-1", "carol"], by: [0, 1], creator: carter)
        // 4. A range query (by owner) that an earlier transaction of its block changes: phantom.
        let listAlice = try await network.endorsedEnvelope(["listByOwner", "alice"], by: [0, 1], creator: carter)
        let createForAlice = try await network.endorsedEnvelope(["create", "asset-3", "alice", "7"], by: [0, 1], creator: carter)
        // 6. A creator certificate not yet valid at the transaction's timestamp: the orderer checks
        // the signature now and accepts; peers check it at the transaction time and refuse.
        let early = try network.craftedEnvelope(writes: [("early", nil)], endorsers: [network.peerSigner(0), network.peerSigner(1)], creator: carter, timestamp: Date().addingTimeInterval(-3600))
        // 7. Key-level policy: a key that only HospitalB may endorse.
        let guarded = try network.craftedEnvelope(
            writes: [("guarded", "'HospitalBMSP.peer'")], endorsers: [network.peerSigner(0), network.peerSigner(1)], creator: carter)
        let guardedByA = try network.craftedEnvelope(writes: [("guarded", nil)], endorsers: [network.peerSigner(0)], creator: carter)
        let guardedByB = try network.craftedEnvelope(writes: [("guarded", nil)], endorsers: [network.peerSigner(1)], creator: carter)
        // 8. A trainee's order needs a supervisor's co-signature of the order's specialty.
        let student = try network.signer(org: "HospitalA", user: "student-dev")
        let supervisor = try network.signer(org: "HospitalA", user: "dr-shah")
        let order = try network.craftedEnvelope(
            writes: [("order-1", "'HospitalAMSP.client[is_supervisor=true,specialty=cardiology]'")],
            endorsers: [network.peerSigner(0), network.peerSigner(1)], creator: student)
        let orderUncosigned = try network.craftedEnvelope(writes: [("order-1", nil)], endorsers: [network.peerSigner(0), network.peerSigner(1)], creator: student)
        let orderCosigned = try network.craftedEnvelope(
            writes: [("order-1", nil)], endorsers: [network.peerSigner(0), network.peerSigner(1), supervisor], creator: student)

        // Blocks hold two transactions (maxMessageCount 2), so each pair below shares a block.
        let batches: [[(Common_Envelope, Protos_TxValidationCode)]] = [
            // An hour before its block's ordering time: outside the transaction time window.
            [(onlyA, .endorsementPolicyFailure), (early, .badChannelHeader)],
            [(transfer1, .valid), (transfer2, .mvccReadConflict)],
            [(createForAlice, .valid), (listAlice, .phantomReadConflict)],
            [(guarded, .valid), (guardedByA, .endorsementPolicyFailure)],
            [(guardedByB, .valid), (order, .valid)],
            [(orderUncosigned, .endorsementPolicyFailure), (orderCosigned, .valid)],
        ]
        for batch in batches {
            let answers = try await network.orderer.broadcast(batch.map(\.0))
            #expect(answers.map(\.status) == batch.map { _ in .success }, "\(answers.map(\.info))")
            for (envelope, code) in batch { expected[try Self.transactionID(envelope)] = code }
            // Wait for the block before sending the next pair.
            let last = try Self.transactionID(batch.last!.0)
            _ = try await network.withGateway(peer: 0, user: "dr-carter") { try await $0.commitStatus(channel: channel, transactionID: last) }
        }
        // 5. The same envelope again: a duplicate txid (the ledger keeps the first outcome).
        let duplicate = try await network.endorsedEnvelope(["create", "asset-4", "dan", "1"], by: [0, 1], creator: carter)
        let duplicateID = try Self.transactionID(duplicate)
        _ = try await network.orderer.broadcast([duplicate, duplicate])
        _ = try await network.withGateway(peer: 1, user: "lab-tech-lee") { try await $0.commitStatus(channel: channel, transactionID: duplicateID) }
        expected[duplicateID] = .valid

        for peer in 0..<2 {
            let metrics = try await HTTP.get("http://127.0.0.1:\(network.peers[peer].operationsPort)/metrics").body
            #expect(metrics.contains(#"medrex_ledger_transactions_total{channel="carechannel",code="DUPLICATE_TXID"} 1"#), "\(metrics)")
        }

        // A peer SIGKILLed while blocks stream in restarts and catches up. The second half of the
        // burst is sent only after the kill, so that the peer misses blocks however late this
        // task runs on a busy machine.
        let burst = try await network.preEndorsed(count: 120, creator: carter)
        let heightBefore = try await network.height(peer: 1)
        let broadcast = Task { try await network.orderer.broadcast(Array(burst.prefix(60))) }
        var heightAtKill = heightBefore
        while heightAtKill < heightBefore + 3 {
            try await Task.sleep(for: .milliseconds(10))
            heightAtKill = try await network.height(peer: 1)
        }
        network.peers[1].process.kill(signal: SIGKILL)
        let answers = try await broadcast.value + network.orderer.broadcast(Array(burst.dropFirst(60)))
        #expect(answers.allSatisfy { $0.status == .success })
        let finalHeight = heightBefore + UInt64(burst.count / 2)
        #expect(heightAtKill < finalHeight, "the peer was killed after it had every block; the catch-up was not exercised")
        try network.peers[1].process.start()
        for peer in 0..<2 { try await network.waitForHeight(finalHeight, peer: peer) }

        // Both peers stop cleanly; their ledgers hold the same blocks, codes and state.
        for peer in network.peers { #expect(peer.process.stop() == 0, "\(peer.process.log)") }
        let ledgers = try network.peers.map { try Ledger(directory: $0.data.appendingPathComponent("ledgers/\(channel)")) }
        #expect(ledgers[0].height == finalHeight && ledgers[1].height == finalHeight)
        for number in 0..<ledgers[0].height {
            let blocks = try ledgers.map { try #require(try $0.blockStore.block(number: number)).serializedData() }
            #expect(blocks[0] == blocks[1], "block \(number) differs between the peers")
        }
        for (txID, code) in expected {
            let actual = try ledgers[0].blockStore.transactionLocation(txID)?.validationCode
            #expect(actual == code, "\(txID): \(actual.map { "\($0)" } ?? "missing") instead of \(code)")
        }
        let digests = try ledgers.map { try StateDigest.compute(try $0.state.makeReader(), namespaces: [chaincode]).digest }
        #expect(digests[0] == digests[1])
        for ledger in ledgers { try ledger.close() }
        for peer in network.peers {
            let report = LedgerVerifier.verify(directory: peer.data.appendingPathComponent("ledgers/\(channel)"))
            #expect(report.isSound, "\(report.problem ?? "")")
        }
    }

    /// `medrex bench run` against the network, over the streaming API and the Fabric gateway
    /// calls: the report's figures are consistent with each other.
    @Test func benchReportsAreConsistent() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        let svg = network.work.appendingPathComponent("bench.svg")
        for (workload, api, deltas) in [("put", "stream", false), ("transfer", "unary", false), ("hot", "stream", false), ("hot", "stream", true)] {
            let result = try await ChildProcess.run(ChildProcess.medrex, [
                "bench", "run", "--crypto", network.crypto.path, "--peer", "127.0.0.1:\(network.peers[0].port)", "--channel", network.channel,
                "--workload", workload, "--accounts", workload == "hot" ? "4" : "200", "--api", api, "--clients", "8", "--duration", "2", "--json",
                "--svg", svg.path] + (deltas ? ["--delta-writes"] : []))
            try #require(result.status == 0, "\(result.output)")
            let json = String(result.output[result.output.firstIndex(of: "{")!...])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let submitted = try #require(report["submitted"] as? Int)
            let committed = try #require(report["committed"] as? Int)
            let valid = try #require(report["valid"] as? Int)
            let invalid = try #require(report["invalid"] as? Int)
            let failed = try #require(report["failed"] as? Int)
            let goodput = try #require(report["goodput"] as? Double)
            #expect(committed > 0, "\(workload): \(json)")
            #expect(committed == valid + invalid)
            let aborted = try #require(report["abortedBeforeOrdering"] as? Int)
            #expect(submitted == committed + aborted + failed)
            #expect(goodput <= 1 && abs(goodput - Double(valid) / Double(submitted)) < 1e-9)
            if workload == "put" { #expect(invalid == 0 && failed == 0, "\(json)") }
            if workload == "hot" && !deltas { #expect(invalid > 0, "8 clients over 4 accounts must conflict: \(json)") }
            // Delta writes read nothing another transaction writes: however hot, none conflicts.
            if deltas { #expect(invalid == 0 && failed == 0 && valid > 0, "delta writes must not conflict: \(json)") }
            // Per-second figures and the CPU of this network's processes (read from /proc).
            let timeline = try #require(report["committedTimeline"] as? [Int])
            #expect(timeline.reduce(0, +) == committed)
            #expect((report["p99Timeline"] as? [Double])?.count == timeline.count)
            let cpu = try #require(report["processCPU"] as? [[String: Any]]).compactMap { $0["name"] as? String }
            #expect(cpu.contains("peer peer0-HospitalA") && cpu.contains("orderer orderer0") && cpu.contains("bench client"), "\(cpu)")
            let chart = try String(contentsOf: svg, encoding: .utf8)
            #expect(chart.hasPrefix("<svg") && chart.contains("<rect") && chart.hasSuffix("</svg>\n"))
        }
    }

    /// The bench's stream client opens its stream again when the peer restarts: transactions
    /// keep committing after the restart instead of every later one failing.
    @Test func benchStreamReconnectsAfterAPeerRestart() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        async let bench = ChildProcess.run(ChildProcess.medrex, [
            "bench", "run", "--crypto", network.crypto.path, "--peer", "127.0.0.1:\(network.peers[0].port)", "--channel", network.channel,
            "--workload", "put", "--api", "stream", "--clients", "4", "--duration", "9", "--json", "--quiet"])
        try await Task.sleep(for: .seconds(2.5))
        network.peers[0].process.kill(signal: SIGKILL)
        try network.peers[0].process.start()
        let result = try await bench
        try #require(result.status == 0, "\(result.output)")
        let json = String(result.output[result.output.firstIndex(of: "{")!...])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let timeline = try #require(report["committedTimeline"] as? [Int])
        #expect(timeline.count >= 8, "\(json)")
        #expect(timeline.prefix(2).reduce(0, +) > 0, "nothing committed before the restart: \(timeline)")
        #expect(timeline.suffix(3).reduce(0, +) > 0, "nothing committed after the restart (no reconnection): \(timeline)")
    }

    /// The `counters` chaincode (the SDK's delta writes): concurrent moves between two counters
    /// all commit VALID in the same blocks; the values add up; a compaction keeps the value, and a
    /// compaction endorsed before an addition commits is refused (phantom read) while the
    /// addition stands.
    @Test func deltaCountersNeverConflictAndCompact() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        let channel = network.channel
        let signer = try network.signer(org: "HospitalA", user: "dr-carter")
        try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
            func value(_ name: String) async throws -> Int64? {
                let answer = try await gateway.evaluate(channel: channel, chaincode: "counters", arguments: ["value", name])
                return Int64(String(decoding: answer.payload, as: UTF8.self))
            }
            let moves = try await withThrowingTaskGroup(of: Protos_TxValidationCode.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let arguments = index % 4 == 0 ? ["move", "beds-b", "beds-a", "3"] : ["move", "beds-a", "beds-b", "1"]
                        let txID = try await gateway.submit(channel: channel, chaincode: "counters", arguments: arguments)
                        return try await gateway.commitStatus(channel: channel, transactionID: txID).result
                    }
                }
                return try await group.reduce(into: [Protos_TxValidationCode]()) { $0.append($1) }
            }
            #expect(moves == Array(repeating: .valid, count: 20))
            // 15 moves of 1 from a to b, 5 of 3 from b to a.
            let (bedsA, bedsB) = (try await value("beds-a"), try await value("beds-b"))
            #expect(bedsA == 0 && bedsB == 0)
            let added = try await gateway.submit(channel: channel, chaincode: "counters", arguments: ["add", "beds-a", "-7"])
            #expect(try await gateway.commitStatus(channel: channel, transactionID: added).result == .valid)

            let compact = try ProposalFactory.make(channel: channel, chaincode: "counters", arguments: ["compact", "beds-a"], signer: signer, timestamp: Date())
            let compactEnvelope = try await gateway.endorse(channel: channel, proposal: compact)
            let racing = try await gateway.submit(channel: channel, chaincode: "counters", arguments: ["add", "beds-a", "2"])
            #expect(try await gateway.commitStatus(channel: channel, transactionID: racing).result == .valid)
            try await gateway.submit(channel: channel, envelope: compactEnvelope)
            let raced = try await gateway.commitStatus(channel: channel, transactionID: try GatewayClient.transactionID(of: compact))
            #expect(raced.result == .phantomReadConflict)
            #expect(try await value("beds-a") == -5)

            let compacted = try await gateway.submit(channel: channel, chaincode: "counters", arguments: ["compact", "beds-a"])
            #expect(try await gateway.commitStatus(channel: channel, transactionID: compacted).result == .valid)
            #expect(try await value("beds-a") == -5)
            let after = try await gateway.submit(channel: channel, chaincode: "counters", arguments: ["add", "beds-a", "5"])
            #expect(try await gateway.commitStatus(channel: channel, transactionID: after).result == .valid)
            #expect(try await value("beds-a") == 0)
        }
    }

    /// `medrex channel join|list`: a peer started without channels joins one at run time (an
    /// admin of its organization only), catches up, and joins it again after a restart.
    @Test func joinsAChannelAtRunTime() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        let txID = try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
            try await gateway.submit(channel: network.channel, chaincode: "asset-transfer", arguments: ["create", "asset-7", "alice", "7"])
        }
        _ = try await network.withGateway(peer: 0, user: "dr-carter") { try await $0.commitStatus(channel: network.channel, transactionID: txID) }
        let target = try await network.height(peer: 0)

        // HospitalA's peer identity on another port and data directory, rendered with no channel.
        let port = try ChildProcess.freePort()
        let lateNetwork = network.work.appendingPathComponent("late-network.yaml")
        let networkText = try String(contentsOf: network.work.appendingPathComponent("network.yaml"), encoding: .utf8)
        let operationsPort = try ChildProcess.freePort()
        try networkText.replacingOccurrences(
            of: "{ name: peer0, port: \(network.peers[0].port), operationsPort: \(network.peers[0].operationsPort) }",
            with: "{ name: peer0, port: \(port), operationsPort: \(operationsPort) }")
            .write(to: lateNetwork, atomically: true, encoding: .utf8)
        var render = NetworkRenderer.Options()
        render.channels = []
        render.crypto = network.crypto.path
        let late = network.work.appendingPathComponent("late")
        for file in try NetworkRenderer(network: try NetworkDescription.load(file: lateNetwork.path), options: render).render() {
            let url = late.appendingPathComponent(file.path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.contents.utf8).write(to: url)
        }
        let config = late.appendingPathComponent("127.0.0.1/peer0-HospitalA.yaml")
        let lateData = late.appendingPathComponent("127.0.0.1/data/peer0-HospitalA")
        let install = try await ChildProcess.run(ChildProcess.medrex, [
            "chaincode", "install", try await ExamplePlugin.assetTransfer().path, "--data", lateData.path, "--name", "asset-transfer"])
        try #require(install.status == 0, "\(install.output)")
        let peer = Daemon(arguments: ["peer", "start", "--config", config.path], logFile: network.work.appendingPathComponent("late-peer.log"))
        try peer.start()
        defer { peer.stop() }
        let admin = ["--crypto", network.crypto.path, "--org", "HospitalA", "--msp-id", "HospitalAMSP", "--peer", "127.0.0.1:\(port)"]
        var list = try await ChildProcess.run(ChildProcess.medrex, ["channel", "list"] + admin)
        let deadline = ContinuousClock.now + .seconds(30)
        while list.status != 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            list = try await ChildProcess.run(ChildProcess.medrex, ["channel", "list"] + admin)
        }
        #expect(list.status == 0 && list.output.isEmpty, "\(list.output)\n\(peer.log)")

        let genesis = network.work.appendingPathComponent("nodes/127.0.0.1/carechannel.block").path
        let join = ["channel", "join"] + admin + ["--genesis", genesis, "--chaincode", "asset-transfer:1.0"]
        let notAdmin = try await ChildProcess.run(ChildProcess.medrex, join + ["--user", "dr-carter"])
        #expect(notAdmin.status != 0 && notAdmin.output.contains("admin request refused"), "\(notAdmin.output)")
        let joined = try await ChildProcess.run(ChildProcess.medrex, join)
        #expect(joined.status == 0 && joined.output.contains("joined channel 'carechannel'"), "\(joined.output)")
        let again = try await ChildProcess.run(ChildProcess.medrex, join)
        #expect(again.status != 0 && again.output.contains("joined already"), "\(again.output)")

        func height() async throws -> UInt64? {
            let listed = try await ChildProcess.run(ChildProcess.medrex, ["channel", "list"] + admin)
            guard listed.status == 0, let line = listed.output.split(separator: "\n").first(where: { $0.hasPrefix("carechannel") }) else { return nil }
            return line.split(separator: "\t").dropFirst().first.flatMap { UInt64($0.dropFirst("height ".count)) }
        }
        var caughtUp = try await height()
        while caughtUp.map({ $0 < target }) ?? true, ContinuousClock.now < deadline + .seconds(30) {
            try await Task.sleep(for: .milliseconds(200))
            caughtUp = try await height()
        }
        #expect(caughtUp == target, "\(peer.log)")

        // After a restart the peer has the channel without being told again, and serves it.
        #expect(peer.stop() == 0)
        try peer.start()
        var restarted = try await height()
        while restarted == nil, ContinuousClock.now < deadline + .seconds(60) {
            try await Task.sleep(for: .milliseconds(200))
            restarted = try await height()
        }
        #expect(restarted == target, "\(peer.log)")
        let query = try await ChildProcess.run(ChildProcess.medrex, [
            "chaincode", "query", "--crypto", network.crypto.path, "--org", "HospitalA", "--msp-id", "HospitalAMSP", "--user", "dr-carter",
            "--peer-org", "HospitalA", "--peer", "127.0.0.1:\(port)", "--channel", network.channel, "--name", "asset-transfer", "read", "asset-7"])
        #expect(query.status == 0 && query.output.contains(#""owner":"alice""#), "\(query.output)")
    }

    static func transactionID(_ envelope: Common_Envelope) throws -> String {
        try TransactionEnvelope(serialized: try envelope.serializedData()).channelHeader.txID
    }
}

/// A background `medrex` daemon whose output goes to a log file.
final class Daemon: @unchecked Sendable {
    let arguments: [String]
    let logFile: URL
    private(set) var process = Process()

    init(arguments: [String], logFile: URL) {
        self.arguments = arguments
        self.logFile = logFile
    }

    func start() throws {
        process = Process()
        process.executableURL = ChildProcess.medrex
        process.arguments = arguments
        if !FileManager.default.fileExists(atPath: logFile.path) { _ = FileManager.default.createFile(atPath: logFile.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: logFile)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    func kill(signal: Int32) {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, signal)
        while process.isRunning { usleep(10_000) }
    }

    /// SIGTERM, then the exit status; SIGKILL (and status -1) when it has not stopped in 30 s.
    /// Polls instead of `waitUntilExit`, which spins a CPU on Linux.
    @discardableResult
    func stop() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        Foundation.kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        guard !process.isRunning else {
            kill(signal: SIGKILL)
            return -1
        }
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }
}

/// A solo orderer and two peers (HospitalA peer0, HospitalB peer0) on free loopback ports.
struct LocalTestNetwork: Sendable {
    struct Peer: Sendable {
        let organization: String
        let port: Int
        let operationsPort: Int
        let data: URL
        let process: Daemon
    }

    let work: URL
    let crypto: URL
    let channel = "carechannel"
    let peers: [Peer]
    let ordererProcess: Daemon
    let orderer: OrdererClient

    /// What a test changes in or adds to the standard two-hospital network.
    struct Options: Sendable {
        /// The channel's block size in transactions.
        var maxMessageCount = 2
        /// The channel's `reorderBlocks`.
        var reorderBlocks = false
        /// peer.yaml `earlyAbort` of both peers.
        var earlyAbort = false
        /// More users: YAML list items for each organization's `users`.
        var extraUsers: [String: [String]] = [:]
        /// Organizations whose peer runs the PHI service (embedded store unless `phiPostgres` names a server).
        var phiOrganizations: [String] = []
        var phiPostgres: [String: NetworkRenderer.PostgresServer] = [:]
        var phiPendingTimeoutSeconds: Int?
        /// Organizations whose custodian key is in a PKCS#11 token (SoftHSM in tests).
        var phiHSM: [String: PhiSettings.HSM] = [:]
        /// How the peers re-wrap data keys after a rotation (`phi.rewrap`).
        var phiRewrap: PhiSettings.Rewrap?
        /// Built-in chaincodes besides kv and accounts to install and define.
        var builtInChaincodes: [String] = []
    }

    static func start(maxMessageCount: Int = 2, reorderBlocks: Bool = false, earlyAbort: Bool = false) async throws -> LocalTestNetwork {
        try await start(Options(maxMessageCount: maxMessageCount, reorderBlocks: reorderBlocks, earlyAbort: earlyAbort))
    }

    static func start(_ options: Options) async throws -> LocalTestNetwork {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let ports = try (0..<6).map { _ in try ChildProcess.freePort() }
        let networkFile = work.appendingPathComponent("network.yaml")
        try """
        name: pipeline-test
        organizations:
          - name: OrdererOrg
            mspID: OrdererMSP
            domain: orderer.test
            orderers: [{ name: orderer0, port: \(ports[0]), operationsPort: \(ports[1]) }]
            admins: [{ name: admin }]
          - name: HospitalA
            mspID: HospitalAMSP
            domain: hospital-a.test
            peers: [{ name: peer0, port: \(ports[2]), operationsPort: \(ports[3]) }]
            admins: [{ name: admin }]
            users:
              - name: dr-carter
                attributes: { role: consulting_doctor, specialty: cardiology, hospital: HospitalA }
              - name: student-dev
                attributes: { role: md_student, specialty: cardiology, is_trainee: true, hospital: HospitalA }
              - name: dr-shah
                attributes: { role: consulting_doctor, specialty: cardiology, is_supervisor: true, hospital: HospitalA }
        \((options.extraUsers["HospitalA"] ?? []).map { "      - " + $0 }.joined(separator: "\n"))
          - name: HospitalB
            mspID: HospitalBMSP
            domain: hospital-b.test
            peers: [{ name: peer0, port: \(ports[4]), operationsPort: \(ports[5]) }]
            admins: [{ name: admin }]
            users:
              - name: lab-tech-lee
                attributes: { role: lab_technician, lab_org: HospitalB-central-lab, hospital: HospitalB }
        \((options.extraUsers["HospitalB"] ?? []).map { "      - " + $0 }.joined(separator: "\n"))
        channels:
          - name: carechannel
            organizations: [HospitalA, HospitalB]
            endorsementPolicy: "AND('HospitalAMSP.peer', 'HospitalBMSP.peer')"
            consensus: solo
            batch: { maxMessageCount: \(options.maxMessageCount), timeout: 250ms }
            reorderBlocks: \(options.reorderBlocks)
        """.write(to: networkFile, atomically: true, encoding: .utf8)
        let medrex = ChildProcess.medrex
        let crypto = work.appendingPathComponent("crypto")
        try FileManager.default.createDirectory(at: work.appendingPathComponent("nodes/127.0.0.1"), withIntermediateDirectories: true)
        for command in [
            ["crypto", "generate", "--config", networkFile.path, "--output", crypto.path],
            ["channel", "create", "--config", networkFile.path, "--channel", "carechannel", "--crypto", crypto.path, "--output", work.appendingPathComponent("nodes/127.0.0.1/carechannel.block").path],
        ] {
            let result = try await ChildProcess.run(medrex, command)
            try #require(result.status == 0, "\(result.output)")
        }
        let library = try await ExamplePlugin.assetTransfer()
        // Every node's file from network.yaml, as `medrex network render` writes them.
        var render = NetworkRenderer.Options()
        render.crypto = crypto.path
        render.chaincodes = (["asset-transfer", "kv", "accounts", "counters"] + options.builtInChaincodes).map { ($0, "1.0") }
        render.peerSettings = [("earlyAbort", "\(options.earlyAbort)")]
        render.phiHSM = options.phiHSM
        render.phiRewrap = options.phiRewrap
        render.phiService = !options.phiOrganizations.isEmpty
        render.phiOrganizations = Set(options.phiOrganizations)
        render.phiPostgres = options.phiPostgres
        render.phiPendingTimeoutSeconds = options.phiPendingTimeoutSeconds
        let nodes = work.appendingPathComponent("nodes/127.0.0.1")
        for file in try NetworkRenderer(network: try NetworkDescription.load(file: networkFile.path), options: render).render() {
            try Data(file.contents.utf8).write(to: work.appendingPathComponent("nodes").appendingPathComponent(file.path))
        }
        let ordererProcess = Daemon(arguments: ["orderer", "start", "--config", nodes.appendingPathComponent("orderer0.yaml").path], logFile: work.appendingPathComponent("orderer0.log"))
        try ordererProcess.start()
        var peers: [Peer] = []
        for (index, organization) in ["HospitalA", "HospitalB"].enumerated() {
            let name = "peer0-\(organization)"
            let data = nodes.appendingPathComponent("data/\(name)")
            let install = try await ChildProcess.run(medrex, ["chaincode", "install", library.path, "--data", data.path, "--name", "asset-transfer"])
            try #require(install.status == 0, "\(install.output)")
            let daemon = Daemon(arguments: ["peer", "start", "--config", nodes.appendingPathComponent("\(name).yaml").path], logFile: work.appendingPathComponent("\(name).log"))
            try daemon.start()
            peers.append(Peer(organization: organization, port: ports[2 + 2 * index], operationsPort: ports[3 + 2 * index], data: data, process: daemon))
        }
        let client = CryptoMaterialLayout(root: crypto, organization: "HospitalA").member(kind: .user, name: "dr-carter")
        let orderer = OrdererClient(host: "127.0.0.1", port: ports[0], tls: MutualTLS(
            certificate: client.tlsCertificate, privateKey: client.tlsPrivateKey,
            trustedCAs: [CryptoMaterialLayout(root: crypto, organization: "OrdererOrg").tlsCACertificate]))
        let network = LocalTestNetwork(work: work, crypto: crypto, peers: peers, ordererProcess: ordererProcess, orderer: orderer)
        for port in [ports[1], ports[3], ports[5]] { try await network.waitUntilHealthy(operationsPort: port) }
        try await network.defineChaincodes(["asset-transfer", "kv", "accounts", "counters"] + options.builtInChaincodes)
        return network
    }

    /// Each organization's admin approves version 1.0 (sequence 1, the channel's policy) of each
    /// chaincode through `_lifecycle`; then the definitions are committed.
    func defineChaincodes(_ names: [String]) async throws {
        for (step, peer, organization) in [("approve", 0, "HospitalA"), ("approve", 1, "HospitalB"), ("commit", 0, "HospitalA")] {
            let admin = try signer(org: organization, user: "admin")
            try await GatewayClient.withConnection(
                host: "127.0.0.1", port: peers[peer].port, tls: clientTLS(org: organization, user: "admin", trusting: peers[peer].organization), signer: admin
            ) { gateway in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for name in names {
                        group.addTask {
                            let txID = try await gateway.submit(channel: channel, chaincode: ChaincodeDefinition.namespace, arguments: [step, name, "1.0", "1"])
                            let status = try await gateway.commitStatus(channel: channel, transactionID: txID)
                            #expect(status.result == .valid, "\(step) \(name) by \(organization): \(status.result)")
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }

    func stopAll() {
        for peer in peers { peer.process.stop() }
        ordererProcess.stop()
        try? FileManager.default.removeItem(at: work)
    }

    func waitUntilHealthy(operationsPort: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let answer = try? await HTTP.get("http://127.0.0.1:\(operationsPort)/healthz"), answer.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("port \(operationsPort) never became healthy; logs:\n\(peers.map(\.process.log).joined(separator: "\n"))\n\(ordererProcess.log)")
        throw CancellationError()
    }

    func height(peer: Int) async throws -> UInt64 {
        let metrics = try await HTTP.get("http://127.0.0.1:\(peers[peer].operationsPort)/metrics").body
        let prefix = "medrex_ledger_height_blocks{channel=\"\(channel)\"} "
        guard let line = metrics.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }), let value = Double(line.dropFirst(prefix.count)) else { return 0 }
        return UInt64(value)
    }

    func waitForHeight(_ height: UInt64, peer: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let current = try? await self.height(peer: peer), current >= height { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("peer \(peer) never reached height \(height); log:\n\(peers[peer].process.log)")
        throw CancellationError()
    }

    func signer(org: String, user: String) throws -> SigningIdentity {
        try CryptoMaterialLoader.loadSigningIdentity(CryptoMaterialLayout(root: crypto, organization: org).member(kind: .user, name: user).msp, mspID: "\(org)MSP")
    }

    func peerSigner(_ index: Int) throws -> SigningIdentity {
        let organization = peers[index].organization
        return try CryptoMaterialLoader.loadSigningIdentity(
            CryptoMaterialLayout(root: crypto, organization: organization).member(kind: .peer, name: "peer0").msp, mspID: "\(organization)MSP")
    }

    func clientTLS(org: String, user: String, trusting peerOrganization: String) -> MutualTLS {
        let member = CryptoMaterialLayout(root: crypto, organization: org).member(kind: .user, name: user)
        return MutualTLS(
            certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey,
            trustedCAs: [CryptoMaterialLayout(root: crypto, organization: peerOrganization).tlsCACertificate])
    }

    func withGateway<Result: Sendable>(peer: Int, user: String, _ body: (GatewayClient) async throws -> Result) async throws -> Result {
        let organization = user == "lab-tech-lee" ? "HospitalB" : "HospitalA"
        return try await GatewayClient.withConnection(
            host: "127.0.0.1", port: peers[peer].port, tls: clientTLS(org: organization, user: user, trusting: peers[peer].organization),
            signer: try signer(org: organization, user: user), body)
    }

    /// Filtered blocks `from...to` from a peer's Deliver service, as a HospitalA client.
    func deliverFiltered(peer: Int, from: UInt64, to: UInt64) async throws -> [Protos_FilteredBlock] {
        let seek = try OrdererClient.seekEnvelope(channel: channel, start: from, stop: to, signer: try signer(org: "HospitalA", user: "dr-carter"))
        let tls = clientTLS(org: "HospitalA", user: "dr-carter", trusting: peers[peer].organization)
        return try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: peers[peer].port), transportSecurity: tls.clientSecurity)) { client in
            try await Protos_Deliver.Client(wrapping: client).deliverFiltered { writer in
                try await writer.write(seek)
            } onResponse: { response in
                var blocks: [Protos_FilteredBlock] = []
                for try await message in response.messages {
                    switch message.type {
                    case .filteredBlock(let block): blocks.append(block)
                    case .status(let status):
                        #expect(status == .success)
                        return blocks
                    default: continue
                    }
                }
                return blocks
            }
        }
    }

    /// Blocks `from...to` from a peer's Deliver service (full, or filtered) as `user` of `org`:
    /// how many came and the final status.
    func deliver(peer: Int, org: String, user: String, from: UInt64, to: UInt64, filtered: Bool) async throws -> (count: Int, status: Common_Status) {
        let seek = try OrdererClient.seekEnvelope(channel: channel, start: from, stop: to, signer: try signer(org: org, user: user))
        let tls = clientTLS(org: org, user: user, trusting: peers[peer].organization)
        return try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: peers[peer].port), transportSecurity: tls.clientSecurity)) { client in
            let service = Protos_Deliver.Client(wrapping: client)
            if filtered {
                return try await service.deliverFiltered { try await $0.write(seek) } onResponse: { try await Self.countBlocks($0) }
            }
            return try await service.deliver { try await $0.write(seek) } onResponse: { try await Self.countBlocks($0) }
        }
    }

    private static func countBlocks(_ response: StreamingClientResponse<Protos_DeliverResponse>) async throws -> (count: Int, status: Common_Status) {
        var count = 0
        for try await message in response.messages {
            switch message.type {
            case .status(let status): return (count, status)
            case .block, .filteredBlock: count += 1
            default: continue
            }
        }
        return (count, .unknown)
    }

    /// The first batch of `chaincode`'s events from block `fromBlock` on, through a gateway.
    func chaincodeEvents(peer: Int, chaincode: String, fromBlock: UInt64) async throws -> Gateway_ChaincodeEventsResponse {
        let signer = try signer(org: "HospitalA", user: "dr-carter")
        var request = Gateway_ChaincodeEventsRequest()
        request.channelID = channel
        request.chaincodeID = chaincode
        request.identity = Data(signer.serialized)
        request.startPosition.specified.number = fromBlock
        var signed = Gateway_SignedChaincodeEventsRequest()
        signed.request = try request.serializedData()
        signed.signature = Data(try signer.sign(signed.request))
        let tls = clientTLS(org: "HospitalA", user: "dr-carter", trusting: peers[peer].organization)
        return try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: peers[peer].port), transportSecurity: tls.clientSecurity)) { client in
            try await Gateway_Gateway.Client(wrapping: client).chaincodeEvents(signed) { response in
                for try await message in response.messages { return message }
                throw RPCError(code: .internalError, message: "the event stream ended without events")
            }
        }
    }

    /// A proposal endorsed for real by the listed peers, assembled and signed by `creator`.
    func endorsedEnvelope(
        _ arguments: [String], by endorsers: [Int], creator: SigningIdentity, chaincode: String = "asset-transfer"
    ) async throws -> Common_Envelope {
        let proposal = try ProposalFactory.make(channel: channel, chaincode: chaincode, arguments: arguments, signer: creator, timestamp: Date())
        var responses: [Protos_ProposalResponse] = []
        for index in endorsers {
            responses.append(try await EndorserClient.processProposal(
                proposal, host: "127.0.0.1", port: peers[index].port, tls: clientTLS(org: "HospitalA", user: "dr-carter", trusting: peers[index].organization)))
        }
        var envelope = Common_Envelope()
        envelope.payload = try TransactionAssembler.payload(proposal: proposal, responses: responses)
        envelope.signature = Data(try creator.sign(envelope.payload))
        return envelope
    }

    /// `count` creates of distinct assets, endorsed by both peers over one connection each.
    func preEndorsed(count: Int, creator: SigningIdentity) async throws -> [Common_Envelope] {
        let proposals = try (0..<count).map { index in
            try ProposalFactory.make(channel: channel, chaincode: "asset-transfer", arguments: ["create", "burst-\(index)", "erin", "\(index)"], signer: creator, timestamp: Date())
        }
        var responses = Array(repeating: [Protos_ProposalResponse](), count: count)
        for peer in 0..<2 {
            let tls = clientTLS(org: "HospitalA", user: "dr-carter", trusting: peers[peer].organization)
            let answers = try await EndorserClient.withConnection(host: "127.0.0.1", port: peers[peer].port, tls: tls) { endorser in
                var answers: [Protos_ProposalResponse] = []
                for proposal in proposals { answers.append(try await endorser.processProposal(proposal)) }
                return answers
            }
            for (index, answer) in answers.enumerated() { responses[index].append(answer) }
        }
        return try zip(proposals, responses).map { proposal, responses in
            var envelope = Common_Envelope()
            envelope.payload = try TransactionAssembler.payload(proposal: proposal, responses: responses)
            envelope.signature = Data(try creator.sign(envelope.payload))
            return envelope
        }
    }

    /// A transaction built by hand (a client holding the keys): blind writes of `writes` (with a
    /// key-level policy when given), endorsed by `endorsers`.
    func craftedEnvelope(
        writes: [(key: String, keyPolicy: String?)], endorsers: [SigningIdentity], creator: SigningIdentity, timestamp: Date = Date(),
        reads: [(key: String, block: UInt64, transaction: UInt64)] = [], otherNamespaces: [(String, Kvrwset_KVRWSet)] = []
    ) throws -> Common_Envelope {
        var builder = EndorserTransactionBuilder(
            channelID: channel, chaincodeName: "asset-transfer", creator: Data(creator.serialized),
            nonce: Data((0..<24).map { _ in UInt8.random(in: 0...255) }), timestamp: timestamp)
        builder.chaincodeVersion = "1.0"
        var set = Kvrwset_KVRWSet()
        for (key, policy) in writes {
            var write = Kvrwset_KVWrite()
            write.key = key
            write.value = Data("v".utf8)
            set.writes.append(write)
            if let policy {
                var metadata = Kvrwset_KVMetadataWrite()
                metadata.key = key
                var entry = Kvrwset_KVMetadataEntry()
                entry.name = StateMetadataName.validationParameter
                entry.value = Data(policy.utf8)
                metadata.entries = [entry]
                set.metadataWrites.append(metadata)
            }
        }
        set.reads = reads.map { read in
            var kvRead = Kvrwset_KVRead()
            kvRead.key = read.key
            kvRead.version.blockNum = read.block
            kvRead.version.txNum = read.transaction
            return kvRead
        }
        builder.readWriteSets = [("asset-transfer", set)] + otherNamespaces
        let responsePayload = try builder.proposalResponsePayload()
        builder.endorsements = try endorsers.map { endorser in
            var endorsement = Protos_Endorsement()
            endorsement.endorser = Data(endorser.serialized)
            endorsement.signature = Data(try endorser.sign(responsePayload + endorser.serialized))
            return endorsement
        }
        return try builder.envelope { Data(try creator.sign($0)) }
    }
}
