import Chaincode
import Foundation
import Identity
import LedgerCore
import LedgerWire
import Synchronization
import SwiftProtobuf
import Testing
import TestSupport
import WorldState

@testable import Endorser

/// A HospitalA peer endorsing for channel `healthchannel` with the probe and ledgerbook chaincodes.
final class EndorserFixture: Sendable {
    static let channel = "healthchannel"
    let pki: TestPKI
    let peer: SigningIdentity
    let doctor: SigningIdentity
    let state = InMemoryStateDatabase()
    let committed = CommittedTransactions()
    let service: EndorsementService

    init(executionTimeMax: Duration = .seconds(5), peerName: String = "peer0", pki: TestPKI? = nil) throws {
        let pki = try pki ?? TestPKI()
        self.pki = pki
        peer = try pki.identity(peerName, units: ["peer"])
        doctor = try pki.identity("dr-carter", units: ["client"], attributes: ["role": "consulting_doctor", "specialty": "cardiology"])
        var seed = StateUpdateBatch()
        for (index, key) in ["a", "b", "c", "d", "e"].enumerated() {
            seed.put(namespace: "probe", key: key, value: Array("value-\(key)".utf8), version: StateVersion(blockNumber: 0, transactionNumber: UInt32(index)))
        }
        seed.put(namespace: "probe", key: "counter", value: Array("41".utf8), version: StateVersion(blockNumber: 0, transactionNumber: 7))
        seed.put(namespace: "probe", key: "order-1", value: Array("order".utf8), version: StateVersion(blockNumber: 0, transactionNumber: 8))
        seed.putMetadata(namespace: "probe", key: "order-1", metadata: [StateMetadataName.validationParameter: Array("'HospitalAMSP.peer'".utf8)], version: StateVersion(blockNumber: 0, transactionNumber: 8))
        seed.define("probe", version: "1.0", at: 9)
        seed.define("ledgerbook", version: "2.1", at: 10)
        seed.define("stale", version: "0.9", at: 11)
        try state.apply(seed, blockNumber: 0)
        let committed = self.committed
        let resources = ChannelEndorsementResources(
            state: state,
            history: { _, key in
                [KeyModification(transactionID: "t2", blockNumber: 2, transactionNumber: 0, value: nil),
                 KeyModification(transactionID: "t1", blockNumber: 1, transactionNumber: 3, value: Array("old-\(key)".utf8))]
            },
            isCommitted: { txID in committed.contains(txID) },
            chaincodes: [
                "probe": ("1.0", ProbeContract()), "ledgerbook": ("2.1", LedgerBookContract()),
                "undefined": ("1.0", ProbeContract()), "stale": ("1.0", ProbeContract()),
            ])
        service = EndorsementService(
            signer: peer, membership: MembershipRegistry([try pki.msp()]), channels: [Self.channel: resources],
            executionTimeMax: executionTimeMax, clock: { TestPKI.now })
    }

    func proposal(_ arguments: [String], chaincode: String = "probe", signer: SigningIdentity? = nil, transient: [String: [UInt8]] = [:],
                  nonce: [UInt8]? = nil, timestamp: Date = TestPKI.now) throws -> Protos_SignedProposal {
        try ProposalFactory.make(
            channel: Self.channel, chaincode: chaincode, arguments: arguments, transient: transient, signer: signer ?? doctor,
            timestamp: timestamp, nonce: nonce ?? (0..<24).map { _ in UInt8.random(in: 0...255) })
    }

    func endorse(_ arguments: [String], chaincode: String = "probe", signer: SigningIdentity? = nil) throws -> Protos_ProposalResponse {
        service.processProposal(try proposal(arguments, chaincode: chaincode, signer: signer))
    }
}

/// Txids a test marks as committed.
final class CommittedTransactions: Sendable {
    private let ids = Mutex<Set<String>>([])
    func insert(_ id: String) { ids.withLock { _ = $0.insert(id) } }
    func contains(_ id: String) -> Bool { ids.withLock { $0.contains(id) } }
}

/// The chaincode action inside an endorsed response, decoded.
struct EndorsedResult {
    let action: Protos_ChaincodeAction
    let sets: [String: Kvrwset_KVRWSet]

    init(_ response: Protos_ProposalResponse) throws {
        let payload = try Protos_ProposalResponsePayload(serializedBytes: response.payload)
        action = try Protos_ChaincodeAction(serializedBytes: payload.extension)
        let readWriteSet = try Rwset_TxReadWriteSet(serializedBytes: action.results)
        var sets: [String: Kvrwset_KVRWSet] = [:]
        for namespaceSet in readWriteSet.nsRwset { sets[namespaceSet.namespace] = try Kvrwset_KVRWSet(serializedBytes: namespaceSet.rwset) }
        self.sets = sets
    }

    var probe: Kvrwset_KVRWSet { sets["probe"] ?? Kvrwset_KVRWSet() }
}

func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

@Suite struct EndorsementServiceTests {
    @Test func endorsesAPutWithASignatureThatVerifies() throws {
        let fixture = try EndorserFixture()
        let response = try fixture.endorse(["put", "patient-7", "anchored"])
        #expect(response.response.status == 200)
        let result = try EndorsedResult(response)
        #expect(result.probe.writes.map(\.key) == ["patient-7"])
        #expect(result.probe.reads.isEmpty)
        #expect(result.action.chaincodeID.name == "probe")
        #expect(result.action.chaincodeID.version == "1.0")
        #expect(response.endorsement.endorser == Data(fixture.peer.serialized))
        let endorser = try MembershipRegistry([try fixture.pki.msp()]).verify(
            signature: response.endorsement.signature, over: response.payload + response.endorsement.endorser,
            by: response.endorsement.endorser, at: TestPKI.now)
        #expect(endorser.role == .peer)
    }

    @Test func readsOwnWritesWithoutReadSetEntries() throws {
        let fixture = try EndorserFixture()
        let response = try fixture.endorse(["putThenGet", "a"])
        #expect(text(response.response.payload) == "fresh|deleted")
        let set = try EndorsedResult(response).probe
        #expect(set.reads.isEmpty, "a key written earlier in the transaction adds no read")
        #expect(set.writes.map(\.key) == ["a"])
        #expect(set.writes.first?.isDelete == true)
    }

    @Test func recordsCommittedVersionsAndAbsentKeys() throws {
        let fixture = try EndorserFixture()
        let increment = try EndorsedResult(try fixture.endorse(["increment", "counter"])).probe
        #expect(increment.reads.map(\.key) == ["counter"])
        #expect(increment.reads.first?.version.txNum == 7)
        #expect(increment.writes.first?.value == Data("42".utf8))
        let absent = try EndorsedResult(try fixture.endorse(["get", "nobody"])).probe
        #expect(absent.reads.map(\.key) == ["nobody"])
        #expect(absent.reads.first?.hasVersion == false)
    }

    @Test func compositeKeysAndPhantomInfo() throws {
        let fixture = try EndorserFixture()
        var batch = StateUpdateBatch()
        for (index, (owner, id)) in [("alice", "a2"), ("alice", "a1"), ("bob", "b1"), ("alicea", "x")].enumerated() {
            let key = try CompositeKey.make(objectType: "asset", attributes: [owner, id])
            batch.put(namespace: "probe", key: key, value: [1], version: StateVersion(blockNumber: 1, transactionNumber: UInt32(index)))
        }
        try fixture.state.apply(batch, blockNumber: 1)
        let response = try fixture.endorse(["listByOwner", "alice"])
        #expect(text(response.response.payload) == #"["a1","a2"]"#)
        let set = try EndorsedResult(response).probe
        #expect(set.rangeQueriesInfo.count == 1)
        #expect(set.rangeQueriesInfo[0].rawReads.kvReads.count == 2)
        #expect(set.rangeQueriesInfo[0].itrExhausted)
        // Simple-key ranges leave composite keys out.
        #expect(text(try fixture.endorse(["range", "", ""]).response.payload) == #"["a","b","c","counter","d","e","order-1"]"#)
    }

    @Test func paginatesReadOnlyQueriesAndRefusesThemInUpdates() throws {
        let fixture = try EndorserFixture()
        let first = try fixture.endorse(["page", "a", "", "2"])
        #expect(text(first.response.payload) == #"{"bookmark":["c"],"keys":["a","b"]}"#)
        let second = try fixture.endorse(["page", "a", "", "2", "c"])
        #expect(text(second.response.payload) == #"{"bookmark":["d"],"keys":["c","counter"]}"#)
        let refused = try fixture.endorse(["pageAndWrite"])
        #expect(refused.response.status == 500)
        #expect(refused.response.message.contains("read-only"))
        #expect(!refused.hasEndorsement)
    }

    @Test func setsAndGetsKeyLevelEndorsementPolicies() throws {
        let fixture = try EndorserFixture()
        let protect = try fixture.endorse(["protect", "order-2", "AND('HospitalAMSP.peer','HospitalAMSP.client[is_supervisor=true]')"])
        #expect(text(protect.response.payload) == "AND('HospitalAMSP.peer','HospitalAMSP.client[is_supervisor=true]')")
        let set = try EndorsedResult(protect).probe
        #expect(set.metadataWrites.map(\.key) == ["order-2"])
        #expect(set.metadataWrites.first?.entries.map(\.name) == ["VALIDATION_PARAMETER"])
        let read = try fixture.endorse(["policyOf", "order-1"])
        #expect(text(read.response.payload) == "'HospitalAMSP.peer'")
        #expect(try EndorsedResult(read).probe.reads.map(\.key) == ["order-1"])
    }

    @Test func keepsTheLastEvent() throws {
        let fixture = try EndorserFixture()
        let response = try fixture.endorse(["emit", "OrderPlaced", "order-9"])
        let event = try Protos_ChaincodeEvent(serializedBytes: try EndorsedResult(response).action.events)
        #expect(event.eventName == "OrderPlaced")
        #expect(event.payload == Data("order-9".utf8))
        #expect(event.chaincodeID == "probe")
        #expect(!event.txID.isEmpty)
    }

    @Test func crossChaincodeCallsJoinTheReadWriteSet() throws {
        let fixture = try EndorserFixture()
        let response = try fixture.endorse(["callOther", "visit-3"])
        #expect(text(response.response.payload) == "recorded visit-3")
        let result = try EndorsedResult(response)
        #expect(result.sets.keys.sorted() == ["ledgerbook", "probe"])
        #expect(result.sets["ledgerbook"]?.writes.map(\.key) == ["entry"])
        #expect(result.probe.writes.map(\.key) == ["called"])
    }

    @Test func twoEndorsersProduceByteIdenticalResults() throws {
        let pki = try TestPKI()
        let first = try EndorserFixture(peerName: "peer0", pki: pki)
        let second = try EndorserFixture(peerName: "peer1", pki: pki)
        for arguments in [["increment", "counter"], ["putThenGet", "b"], ["listByOwner", "alice"], ["callOther", "x"], ["protect", "k", "p"]] {
            let proposal = try first.proposal(arguments, signer: first.doctor)
            let a = first.service.processProposal(proposal)
            let b = second.service.processProposal(proposal)
            #expect(a.response.status == 200, "\(arguments)")
            #expect(a.payload == b.payload, "\(arguments): proposal response payloads differ")
            #expect(a.endorsement.endorser != b.endorsement.endorser)
        }
    }

    @Test func exposesTheClientIdentityTimestampAndTransientData() throws {
        let fixture = try EndorserFixture()
        let response = try fixture.endorse(["whoami"])
        let fields = try JSONDecoder().decode([String].self, from: response.response.payload)
        #expect(fields[0] == "HospitalAMSP")
        #expect(fields[1] == "client")
        #expect(fields[3] == String(TestPKI.now.timeIntervalSince1970))
        let nurse = try fixture.pki.identity("nurse", attributes: ["role": "nurse"])
        let denied = try fixture.endorse(["whoami"], signer: nurse)
        #expect(denied.response.status == 403)
        #expect(!denied.hasEndorsement)

        let secret = fixture.service.processProposal(try fixture.proposal(["secret"], transient: ["dose": Array("5mg".utf8)]))
        #expect(text(secret.response.payload) == "5mg")
        #expect(try EndorsedResult(secret).sets.isEmpty)
    }

    @Test func historyComesFromTheLedger() throws {
        let fixture = try EndorserFixture()
        let response = try fixture.endorse(["history", "a"])
        #expect(text(response.response.payload) == #"["<deleted>","old-a"]"#)
    }

    @Test func refusalsCarryAClearStatusAndNoEndorsement() throws {
        let fixture = try EndorserFixture(executionTimeMax: .milliseconds(200))
        func check(_ response: Protos_ProposalResponse, _ status: Int32, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(response.response.status == status, "\(response.response.message)", sourceLocation: sourceLocation)
            #expect(response.response.message.contains(fragment), "\(response.response.message)", sourceLocation: sourceLocation)
            #expect(!response.hasEndorsement, sourceLocation: sourceLocation)
            #expect(response.payload.isEmpty, sourceLocation: sourceLocation)
        }
        var tampered = try fixture.proposal(["put", "k", "v"])
        tampered.signature = Data(try fixture.doctor.sign(Array("something else".utf8)))
        check(fixture.service.processProposal(tampered), 403, "signature")

        let stranger = try TestPKI(mspID: "HospitalBMSP", domain: "hospital-b.test").identity("bob")
        check(try fixture.endorse(["put", "k", "v"], signer: stranger), 403, "HospitalBMSP")

        let expired = try fixture.pki.identity("visitor", days: 0.5)
        check(try fixture.endorse(["put", "k", "v"], signer: expired), 403, "expired")

        check(try fixture.endorse(["put", "k", "v"], chaincode: "nosuch"), 404, "not defined")
        // Installed, but the channel has not committed a definition, or another version.
        check(try fixture.endorse(["put", "k", "v"], chaincode: "undefined"), 404, "no committed definition")
        check(try fixture.endorse(["put", "k", "v"], chaincode: "stale"), 404, "the channel's definition is version 0.9")

        let proposal = try fixture.proposal(["put", "k", "v"])
        let txID = try Common_ChannelHeader(serializedBytes: Common_Header(serializedBytes: Protos_Proposal(serializedBytes: proposal.proposalBytes).header).channelHeader).txID
        fixture.committed.insert(txID)
        check(fixture.service.processProposal(proposal), 409, "already committed")

        check(try fixture.endorse(["fail"]), 404, "no such record")
        check(try fixture.endorse(["crash"]), 500, "failed")
        check(try fixture.endorse(["nosuchfunction"]), 400, "unknown transaction function")
        check(try fixture.endorse(["spin"]), 500, "time limit")
        check(try fixture.endorse(["huge"]), 500, "exceeds")
    }
}

extension StateUpdateBatch {
    /// Seeds the committed `_lifecycle` definition of `name` (default endorsement policy).
    mutating func define(_ name: String, version: String, at transaction: UInt32) {
        put(
            namespace: ChaincodeDefinition.namespace, key: ChaincodeDefinition.definitionKey(name),
            value: ChaincodeDefinition(name: name, version: version, sequence: 1, endorsementPolicy: "").canonicalJSON,
            version: StateVersion(blockNumber: 0, transactionNumber: transaction))
    }
}
