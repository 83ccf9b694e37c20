import Chaincode
import Foundation
import LedgerWire
import Testing
import TestSupport
import WorldState

@testable import Endorser

/// Builds `Examples/asset-transfer` as a real plugin, loads it with dlopen, and runs it through
/// the endorser; refuses libraries with another ABI or none.
@Suite(.serialized) struct ChaincodePluginTests {
    static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await ChildProcess.run(URL(fileURLWithPath: executable), arguments)
    }

    @Test func loadsAndRunsTheExamplePlugin() async throws {
        let library = try await ExamplePlugin.assetTransfer()
        let contract = try ChaincodePluginLoader.load(path: library.path)
        #expect(contract.router.functionNames == ["create", "delete", "listByOwner", "read", "transfer"])

        let fixture = try EndorserFixture()
        let state = InMemoryStateDatabase()
        var definitions = StateUpdateBatch()
        definitions.define("asset-transfer", version: "1.0", at: 0)
        try state.apply(definitions, blockNumber: 0)
        let resources = ChannelEndorsementResources(
            state: state, history: { _, _ in [] }, isCommitted: { _ in false }, chaincodes: ["asset-transfer": ("1.0", contract)])
        let service = EndorsementService(
            signer: fixture.peer, membership: fixture.service.membership, channels: [EndorserFixture.channel: resources], clock: { TestPKI.now })
        func call(_ arguments: [String]) throws -> Protos_ProposalResponse {
            service.processProposal(try fixture.proposal(arguments, chaincode: "asset-transfer"))
        }
        let created = try call(["create", "asset-1", "alice", "300"])
        #expect(created.response.status == 200)
        #expect(text(created.response.payload) == #"{"id":"asset-1","owner":"alice","value":300}"#)
        // Commit the creation so that later calls see it.
        var batch = StateUpdateBatch()
        for write in try EndorsedResult(created).sets["asset-transfer"]!.writes {
            batch.put(namespace: "asset-transfer", key: write.key, value: Array(write.value), version: StateVersion(blockNumber: 1, transactionNumber: 0))
        }
        try state.apply(batch, blockNumber: 1)
        #expect(text(try call(["read", "asset-1"]).response.payload).contains(#""owner":"alice""#))
        #expect(text(try call(["listByOwner", "alice"]).response.payload) == #"["asset-1"]"#)
        let transfer = try EndorsedResult(try call(["transfer", "asset-1", "bob"]))
        #expect(transfer.sets["asset-transfer"]?.writes.count == 3, "asset, old index entry deleted, new index entry")
        let missing = try call(["read", "asset-404"])
        #expect(missing.response.status == 404)
        #expect(!missing.hasEndorsement)
    }

    @Test func refusesLibrariesOfAnotherABIOrNone() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-plugins-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("plugin.c")
        try """
        unsigned int medrex_chaincode_abi_version(void) { return 999; }
        void *medrex_chaincode_entry(void) { return 0; }
        """.write(to: source, atomically: true, encoding: .utf8)
        let otherABI = directory.appendingPathComponent("libotherabi.so")
        #expect(try await Self.run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-o", otherABI.path, source.path]).status == 0)
        do {
            _ = try ChaincodePluginLoader.load(path: otherABI.path)
            Issue.record("loaded a plugin of another ABI")
        } catch {
            #expect(error.reason.contains("ABI 999"))
            #expect(error.reason.contains("this node has ABI \(ChaincodePlugin.loadedABIVersion())"))
        }

        let plainSource = directory.appendingPathComponent("plain.c")
        try "int unrelated(void) { return 1; }".write(to: plainSource, atomically: true, encoding: .utf8)
        let plain = directory.appendingPathComponent("libplain.so")
        #expect(try await Self.run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-o", plain.path, plainSource.path]).status == 0)
        #expect(throws: ChaincodePluginError.self) { _ = try ChaincodePluginLoader.load(path: plain.path) }

        let garbage = directory.appendingPathComponent("libgarbage.so")
        try Data("not an ELF file".utf8).write(to: garbage)
        do {
            _ = try ChaincodePluginLoader.load(path: garbage.path)
            Issue.record("loaded garbage")
        } catch {
            #expect(error.reason.contains("cannot be loaded"))
        }
    }
}
