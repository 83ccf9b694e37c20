import Foundation
import GRPCCore
import LedgerWire
import Testing
import TestSupport
@testable import Committer
@testable import GatewayService
@testable import NodeClients
@testable import PeerDaemon
@testable import PhiService


/// Contention reduction on a real network (solo orderer, two peers, blocks of 4): the orderer's
/// dependency reordering and the gateway's early abort.
@Suite(.serialized) struct ContentionEndToEndTests {
    /// One block of conflicting `accounts` transactions, broadcast as endorsed: transfers
    /// 0→1, 0→2, 1→3 and a read of account 0. In arrival order only the first is valid; reordered,
    /// the read goes before the transfer from 0 that is kept, and the transfer 0→1 (in conflict
    /// with both others) is doomed to the end.
    static func conflictingBlock(on network: LocalTestNetwork) async throws -> [Protos_TxValidationCode] {
        let carter = try network.signer(org: "HospitalA", user: "dr-carter")
        try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
            let txID = try await gateway.submit(channel: network.channel, chaincode: "accounts", arguments: ["open", "0", "4", "100"])
            #expect(try await gateway.commitStatus(channel: network.channel, transactionID: txID).result == .valid)
        }
        var envelopes: [Common_Envelope] = []
        for arguments in [["transfer", "acct-0", "acct-1", "1"], ["transfer", "acct-0", "acct-2", "1"], ["transfer", "acct-1", "acct-3", "1"], ["balance", "acct-0"]] {
            envelopes.append(try await network.endorsedEnvelope(arguments, by: [0, 1], creator: carter, chaincode: "accounts"))
        }
        let answers = try await network.orderer.broadcast(envelopes)
        #expect(answers.map(\.status) == [Common_Status](repeating: .success, count: envelopes.count))
        // Both peers have committed the block before this returns (later endorsements read its state).
        var codesByPeer: [[Protos_TxValidationCode]] = []
        for (peer, user) in [(0, "dr-carter"), (1, "lab-tech-lee")] {
            codesByPeer.append(try await network.withGateway(peer: peer, user: user) { gateway in
                var codes: [Protos_TxValidationCode] = []
                for envelope in envelopes {
                    codes.append(try await gateway.commitStatus(channel: network.channel, transactionID: try PipelineEndToEndTests.transactionID(envelope)).result)
                }
                return codes
            })
        }
        #expect(codesByPeer[0] == codesByPeer[1])
        return codesByPeer[0]
    }

    @Test func reorderingMakesMoreOfAConflictingBlockValid() async throws {
        let plain = try await LocalTestNetwork.start(maxMessageCount: 4)
        let arrivalOrder: [Protos_TxValidationCode]
        do {
            arrivalOrder = try await Self.conflictingBlock(on: plain)
            plain.stopAll()
        } catch {
            plain.stopAll()
            throw error
        }
        // The orderer may take one stream's envelopes in a slightly different order; whichever
        // order they arrive in, without reordering the transfers from account 0 conflict.
        #expect(arrivalOrder.filter { $0 == .valid }.count <= 2, "\(arrivalOrder)")

        let network = try await LocalTestNetwork.start(maxMessageCount: 4, reorderBlocks: true, earlyAbort: true)
        defer { network.stopAll() }
        let reordered = try await Self.conflictingBlock(on: network)
        #expect(reordered == [.mvccReadConflict, .valid, .valid, .valid])

        // Early abort: two transfers endorsed on the same state; once the first commits, the
        // gateway refuses to order the second.
        let carter = try network.signer(org: "HospitalA", user: "dr-carter")
        let first = try await network.endorsedEnvelope(["transfer", "acct-2", "acct-3", "1"], by: [0, 1], creator: carter, chaincode: "accounts")
        let second = try await network.endorsedEnvelope(["transfer", "acct-2", "acct-0", "1"], by: [0, 1], creator: carter, chaincode: "accounts")
        try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
            try await gateway.submit(channel: network.channel, envelope: first)
            let firstID = try PipelineEndToEndTests.transactionID(first)
            #expect(try await gateway.commitStatus(channel: network.channel, transactionID: firstID).result == .valid)
            do {
                try await gateway.submit(channel: network.channel, envelope: second)
                Issue.record("a transaction with a stale read was ordered")
            } catch let error as RPCError {
                #expect(error.code == .aborted && error.message.hasPrefix(ReadConflictPrecheck.abortMessagePrefix), "\(error)")
            }
        }
        // A proposal that reads what a pending transaction writes is simulated again once that
        // transaction commits: the second transfer from acct-3, endorsed while the first is being
        // ordered, reads its result and commits VALID instead of being aborted.
        try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
            let earlier = try await gateway.submit(channel: network.channel, chaincode: "accounts", arguments: ["transfer", "acct-3", "acct-1", "1"])
            let later = try await gateway.submit(channel: network.channel, chaincode: "accounts", arguments: ["transfer", "acct-3", "acct-0", "1"])
            #expect(try await gateway.commitStatus(channel: network.channel, transactionID: earlier).result == .valid)
            #expect(try await gateway.commitStatus(channel: network.channel, transactionID: later).result == .valid)
        }
        let metrics = try await HTTP.get("http://127.0.0.1:\(network.peers[0].operationsPort)/metrics").body
        #expect(!metrics.contains(#"code="MVCC_READ_CONFLICT"} 2"#), "the aborted transaction must not reach a block: \(metrics)")
    }
}
