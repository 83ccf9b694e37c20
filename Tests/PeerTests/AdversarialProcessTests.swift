import Crypto
import Foundation
import GRPCCore
import Identity
import LedgerCore
import LedgerWire
import Orderer
import SwiftProtobuf
import Testing
import TestSupport
import WorldState
@testable import Committer
@testable import GatewayService
@testable import NodeClients
@testable import PeerDaemon
@testable import PhiService


/// Attacks on a running network (a solo orderer and one peer per hospital, mutual TLS) by a
/// client of either hospital, a patient, or a holder of one peer's key. Each attack gets its
/// code or refusal, and after each one every node still serves: the requests that used to crash
/// a node, the poison block that used to halt every peer, re-wrapped endorsements, writes into
/// `_lifecycle`, an endorser counted twice, a high-S signature (refused by the orderer), full
/// blocks to a patient.
@Suite(.serialized) struct AdversarialProcessTests {
    @Test func attacksGetTheirCodesAndEveryNodeKeepsServing() async throws {
        var options = LocalTestNetwork.Options()
        options.extraUsers["HospitalA"] = ["{ name: patient-alice, attributes: { role: patient, hospital: HospitalA } }"]
        let network = try await LocalTestNetwork.start(options)
        defer { network.stopAll() }
        let carter = try network.signer(org: "HospitalA", user: "dr-carter")
        let alice = try network.signer(org: "HospitalA", user: "patient-alice")
        let admin = try network.signer(org: "HospitalA", user: "admin")
        let peerKeys = [try network.peerSigner(0), try network.peerSigner(1)]

        func expectServing(_ step: String) async throws {
            for peer in network.peers.indices {
                let health = try? await HTTP.get("http://127.0.0.1:\(network.peers[peer].operationsPort)/healthz")
                #expect(health?.status == 200, "after \(step): peer \(peer) stopped serving; log:\n\(network.peers[peer].process.log.suffix(3000))")
            }
            let (blocks, status) = try await network.orderer.deliver(channel: network.channel, start: 0, stop: 0, signer: admin)
            #expect(status == .success && blocks.count == 1, "after \(step): the orderer stopped serving; log:\n\(network.ordererProcess.log.suffix(3000))")
        }

        // 1. Deliver, DeliverFiltered and ChaincodeEvents from block 2^64-1 (they trapped the peer on `number + 1`).
        let full = try await network.deliver(peer: 0, org: "HospitalA", user: "admin", from: .max, to: .max, filtered: false)
        #expect(full.status == .notFound && full.count == 0)
        let filtered = try await network.deliver(peer: 1, org: "HospitalA", user: "dr-carter", from: .max, to: .max, filtered: true)
        #expect(filtered.status == .notFound && filtered.count == 0)
        await #expect(throws: (any Error).self) { _ = try await network.chaincodeEvents(peer: 0, chaincode: "asset-transfer", fromBlock: .max) }
        try await expectServing("seeks of block 2^64-1")

        // 2. `accounts open 9223372036854775807 1 0` as a mere Evaluate (it trapped the endorsing peer).
        await #expect(throws: (any Error).self) {
            _ = try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
                try await gateway.evaluate(channel: network.channel, chaincode: "accounts", arguments: ["open", String(Int.max), "1", "0"])
            }
        }
        try await expectServing("accounts open Int.max")

        // 3. Poison block: a read at tx_num 2^32 endorsed by both peers' keys, ordered (it trapped every
        //    peer, on every restart). Also: a write into _lifecycle, one endorser counted twice, a
        //    re-wrapped endorsement and a high-S envelope signature, all broadcast straight to the orderer.
        let poison = try network.craftedEnvelope(writes: [("poison", nil)], endorsers: peerKeys, creator: carter, reads: [("poison", 0, 1 << 32)])
        var definition = Kvrwset_KVRWSet()
        var takeover = Kvrwset_KVWrite()
        takeover.key = ChaincodeDefinition.definitionKey("asset-transfer")
        takeover.value = Data(ChaincodeDefinition(name: "asset-transfer", version: "1.0", sequence: 2, endorsementPolicy: "'HospitalAMSP.member'").canonicalJSON)
        definition.writes = [takeover]
        let lifecycle = try network.craftedEnvelope(
            writes: [("lifecycle-carrier", nil)], endorsers: peerKeys, creator: carter, otherNamespaces: [(ChaincodeDefinition.namespace, definition)])
        let twice = try Self.endorsedTwiceByOnePeer(try network.craftedEnvelope(writes: [("twice", nil)], endorsers: [peerKeys[0]], creator: carter), peerKeys[0], creator: carter)
        let endorsed = try await network.endorsedEnvelope(["create", "rewrapped", "carter", "1"], by: [0, 1], creator: carter)
        let rewrapped = try Self.rewrap(endorsed, as: alice)
        let attacks: [(String, Common_Envelope, Protos_TxValidationCode)] = [
            ("poison block", poison, .mvccReadConflict), ("write into _lifecycle", lifecycle, .illegalWriteset),
            ("one endorser twice", twice, .endorsementPolicyFailure), ("re-wrapped endorsement", rewrapped, .invalidEndorserTransaction),
        ]
        // A high-S envelope signature (the other ECDSA signature that verifies) is refused by the orderer.
        let highS = try Self.withHighS(try network.craftedEnvelope(writes: [("high-s", nil)], endorsers: peerKeys, creator: carter))
        #expect(try await network.orderer.broadcast([highS]).map(\.status) == [.forbidden])
        // The gateway refuses the re-wrapped endorsement before ordering.
        await #expect(throws: RPCError.self) {
            try await network.withGateway(peer: 0, user: "patient-alice") { try await $0.submit(channel: network.channel, envelope: rewrapped) }
        }
        let answers = try await network.orderer.broadcast(attacks.map(\.1))
        #expect(answers.allSatisfy { $0.status == .success }, "\(answers.map(\.status))")
        // A valid transaction after them commits on both peers: the channel is not halted.
        let after = try await network.endorsedEnvelope(["create", "after-attacks", "carter", "1"], by: [0, 1], creator: carter)
        _ = try await network.orderer.broadcast([after])
        for peer in network.peers.indices {
            try await network.withGateway(peer: peer, user: "dr-carter") { gateway in
                for (name, envelope, code) in attacks {
                    let status = try await gateway.commitStatus(channel: network.channel, transactionID: try PipelineEndToEndTests.transactionID(envelope))
                    #expect(status.result == code, "\(name) on peer \(peer): \(status.result.name)")
                }
                let status = try await gateway.commitStatus(channel: network.channel, transactionID: try PipelineEndToEndTests.transactionID(after))
                #expect(status.result == .valid)
            }
        }
        try await expectServing("the attack transactions")

        // 4. The same bad input gets the same status on every path: an envelope that is no
        //    transaction, unary (Gateway.Submit) and on the stream; an admin request that is no
        //    AdminRequest.
        var malformed = Common_Envelope()
        malformed.payload = Data([0xff, 0x01, 0x02])
        malformed.signature = Data(try carter.sign(malformed.payload))
        let garbage = malformed
        let unaryCode = await Self.rpcCode {
            try await network.withGateway(peer: 0, user: "dr-carter") { try await $0.submit(channel: network.channel, envelope: garbage) }
        }
        let streamCode = await Self.rpcCode {
            _ = try await TransactionStreamClient.withStream(
                host: "127.0.0.1", port: network.peers[0].port, tls: network.clientTLS(org: "HospitalA", user: "dr-carter", trusting: "HospitalA"),
                signer: carter
            ) { try await $0.submit(channel: network.channel, envelope: garbage) }
        }
        let adminCode = await Self.rpcCode {
            var request = Medrex_SignedAdminRequest()
            request.request = Data([0xff, 0xff])
            request.signature = Data(try admin.sign(request.request))
            let tls = network.clientTLS(org: "HospitalA", user: "admin", trusting: "HospitalA")
            _ = try await withGRPCClient(
                transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: network.peers[0].port), transportSecurity: tls.clientSecurity)
            ) { client in try await Medrex_PeerAdmin.Client(wrapping: client).listChannels(request) }
        }
        #expect(unaryCode == .invalidArgument && streamCode == .invalidArgument && adminCode == .invalidArgument, "\(String(describing: unaryCode)) \(String(describing: streamCode)) \(String(describing: adminCode))")
        try await expectServing("malformed requests")

        // 5. Full blocks carry who was treated where: a patient gets filtered blocks only.
        let patientFull = try await network.deliver(peer: 0, org: "HospitalA", user: "patient-alice", from: 0, to: 0, filtered: false)
        #expect(patientFull.status == .forbidden && patientFull.count == 0)
        let patientFiltered = try await network.deliver(peer: 0, org: "HospitalA", user: "patient-alice", from: 0, to: 0, filtered: true)
        #expect(patientFiltered.status == .success && patientFiltered.count == 1)
        let adminFull = try await network.deliver(peer: 0, org: "HospitalA", user: "admin", from: 0, to: 0, filtered: false)
        #expect(adminFull.status == .success && adminFull.count == 1)
        try await expectServing("block reading by role")
    }

    /// The status code `body` failed with; nil when it did not fail with an `RPCError`.
    static func rpcCode(_ body: () async throws -> Void) async -> RPCError.Code? {
        do {
            try await body()
            return nil
        } catch let error as RPCError {
            return error.code
        } catch {
            return nil
        }
    }

    /// `envelope` with a second endorsement by `peer` under a re-encoded identity (an unknown
    /// protobuf field appended), signed again by `creator`.
    static func endorsedTwiceByOnePeer(_ envelope: Common_Envelope, _ peer: SigningIdentity, creator: SigningIdentity) throws -> Common_Envelope {
        var envelope = envelope
        var payload = try Common_Payload(serializedBytes: envelope.payload)
        var transaction = try Protos_Transaction(serializedBytes: payload.data)
        var action = try Protos_ChaincodeActionPayload(serializedBytes: transaction.actions[0].payload)
        var second = Protos_Endorsement()
        second.endorser = Data(peer.serialized) + Data([0x1a, 0x01, 0x00])
        second.signature = Data(try peer.sign(action.action.proposalResponsePayload + second.endorser))
        action.action.endorsements.append(second)
        transaction.actions[0].payload = try action.serializedData()
        payload.data = try transaction.serializedData()
        envelope.payload = try payload.serializedData()
        envelope.signature = Data(try creator.sign(envelope.payload))
        return envelope
    }

    /// A clinician's endorsed transaction under `creator`'s header (her nonce, so her txid),
    /// endorsements untouched, signed by her.
    static func rewrap(_ envelope: Common_Envelope, as creator: SigningIdentity) throws -> Common_Envelope {
        var payload = try Common_Payload(serializedBytes: envelope.payload)
        var header = Common_SignatureHeader()
        header.creator = Data(creator.serialized)
        header.nonce = Data((0..<24).map { _ in UInt8.random(in: 0...255) })
        var channelHeader = try Common_ChannelHeader(serializedBytes: payload.header.channelHeader)
        channelHeader.txID = TransactionID.make(nonce: header.nonce, creator: header.creator)
        payload.header.channelHeader = try channelHeader.serializedData()
        payload.header.signatureHeader = try header.serializedData()
        var transaction = try Protos_Transaction(serializedBytes: payload.data)
        transaction.actions[0].header = payload.header.signatureHeader
        payload.data = try transaction.serializedData()
        var result = Common_Envelope()
        result.payload = try payload.serializedData()
        result.signature = Data(try creator.sign(result.payload))
        return result
    }

    /// The same envelope with the other ECDSA signature that verifies (r, n - s).
    static func withHighS(_ envelope: Common_Envelope) throws -> Common_Envelope {
        var envelope = envelope
        let signature = try P256.Signing.ECDSASignature(derRepresentation: envelope.signature)
        envelope.signature = LowS.negatingS(signature).derRepresentation
        return envelope
    }
}
