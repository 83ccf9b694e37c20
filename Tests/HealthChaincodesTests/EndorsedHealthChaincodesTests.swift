import BuiltInChaincodes
import Chaincode
import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import Testing
import TestSupport
@testable import WorldState

@testable import Endorser
@testable import HealthChaincodes

/// The healthcare contracts run by the real endorser over a RocksDB world state: proposals signed
/// by certificates with healthcare attributes, cross-namespace calls, and read/write sets that a
/// block would carry. A test "commits" an endorsed result by applying its writes, as the
/// committer would for a valid transaction.
final class HealthEndorsementFixture {
    static let channel = "healthchannel"
    static let names = ["phi", "access", "audit", "clinical", "vitals"]
    let pki: TestPKI
    let service: EndorsementService
    let resources: ChannelEndorsementResources
    let state: RocksStateDatabase
    let directory: URL
    private var blockNumber: UInt64 = 1

    init() throws {
        pki = try TestPKI()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-health-\(UUID().uuidString)")
        state = RocksStateDatabase(database: try RocksDatabase(path: directory.path, columnFamilies: RocksStateDatabase.columnFamilies))
        var seed = StateUpdateBatch()
        for (index, name) in Self.names.enumerated() {
            seed.put(
                namespace: ChaincodeDefinition.namespace, key: ChaincodeDefinition.definitionKey(name),
                value: ChaincodeDefinition(name: name, version: "1.0", sequence: 1, endorsementPolicy: "").canonicalJSON,
                version: StateVersion(blockNumber: 0, transactionNumber: UInt32(index)))
        }
        try state.apply(seed, blockNumber: 0)
        let contracts: [String: any Contract] = [
            "phi": PhiContract(), "access": AccessContract(), "audit": AuditContract(), "clinical": ClinicalContract(), "vitals": VitalsContract(),
        ]
        resources = ChannelEndorsementResources(
            state: state, history: { _, _ in [] }, isCommitted: { _ in false },
            chaincodes: contracts.mapValues { (version: "1.0", contract: $0) })
        service = try Self.service(pki: pki, peerName: "peer0", resources: resources)
    }

    /// An endorser of the organization over the same state.
    static func service(pki: TestPKI, peerName: String, resources: ChannelEndorsementResources) throws -> EndorsementService {
        EndorsementService(
            signer: try pki.identity(peerName, units: ["peer"]), membership: MembershipRegistry([try pki.msp()]),
            channels: [channel: resources], clock: { TestPKI.now })
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func identity(_ name: String, _ attributes: [String: String]) throws -> SigningIdentity {
        try pki.identity(name, attributes: attributes)
    }

    func endorse(_ chaincode: String, _ arguments: [String], as signer: SigningIdentity, at time: Date = TestPKI.now) throws -> Protos_ProposalResponse {
        service.processProposal(try ProposalFactory.make(
            channel: Self.channel, chaincode: chaincode, arguments: arguments, signer: signer, timestamp: time))
    }

    /// Applies the endorsed writes and metadata writes in a block of their own.
    func commit(_ response: Protos_ProposalResponse) throws {
        var batch = StateUpdateBatch()
        let version = StateVersion(blockNumber: blockNumber, transactionNumber: 0)
        for (namespace, set) in try EndorsedSets(response).sets {
            for write in set.writes {
                if write.isDelete {
                    batch.delete(namespace: namespace, key: write.key, version: version)
                } else {
                    batch.put(namespace: namespace, key: write.key, value: Array(write.value), version: version)
                }
            }
            for write in set.metadataWrites {
                batch.putMetadata(
                    namespace: namespace, key: write.key, metadata: Dictionary(uniqueKeysWithValues: write.entries.map { ($0.name, Array($0.value)) }),
                    version: version)
            }
        }
        try state.apply(batch, blockNumber: blockNumber)
        blockNumber += 1
    }
}

/// The per-namespace read/write sets of an endorsed response.
struct EndorsedSets {
    let sets: [String: Kvrwset_KVRWSet]

    init(_ response: Protos_ProposalResponse) throws {
        let payload = try Protos_ProposalResponsePayload(serializedBytes: response.payload)
        let action = try Protos_ChaincodeAction(serializedBytes: payload.extension)
        var sets: [String: Kvrwset_KVRWSet] = [:]
        for namespaceSet in try Rwset_TxReadWriteSet(serializedBytes: action.results).nsRwset {
            sets[namespaceSet.namespace] = try Kvrwset_KVRWSet(serializedBytes: namespaceSet.rwset)
        }
        self.sets = sets
    }
}

@Suite struct EndorsedHealthChaincodesTests {
    @Test func theHealthcareContractsShipWithThePeer() {
        #expect(Set(HealthEndorsementFixture.names).isSubset(of: BuiltInChaincodes.all.keys))
    }

    @Test func anchorThenRequestAcrossNamespaces() throws {
        let fixture = try HealthEndorsementFixture()
        let operatorA = try fixture.identity("op-a", ["role": "operator"])
        let ana = try fixture.identity("pat-ana", ["role": "patient"])
        let carter = try fixture.identity("dr-carter", ["role": "consulting_doctor", "specialty": "cardiology"])
        let patient = "HospitalAMSP/pat-ana"
        let anchorJSON = #"{"recordID":"rec-1","version":1,"sha256":"\#(digest(99))","patient":"\#(patient)","custodian":"HospitalAMSP","resourceType":"Observation","cipher":"AES-256-GCM","keyWrap":"ECDH-ES"}"#

        let anchored = try fixture.endorse("phi", ["anchor", anchorJSON], as: operatorA)
        #expect(anchored.response.status == 200, "\(anchored.response.message)")
        #expect(anchored.hasEndorsement)
        let anchor = try JSONDecoder().decode(PhiAnchor.self, from: anchored.response.payload)
        #expect(anchor.anchoredBy == "HospitalAMSP/op-a", "the person id comes from the certificate's CN and the MSP")
        #expect(anchor.anchoredAt == (try HealthTime.string(TestPKI.now)))
        #expect(try EndorsedSets(anchored).sets["phi"]?.writes.count == 3)
        try fixture.commit(anchored)

        // Granted: the patient's own record. The decision reads phi (through invokeChaincode) and
        // writes the audit entry in the same transaction.
        let granted = try fixture.endorse("access", ["request", "rec-1", "latest"], as: ana)
        #expect(granted.response.status == 200, "\(granted.response.message)")
        let decision = try JSONDecoder().decode(AccessDecision.self, from: granted.response.payload)
        #expect(decision.granted)
        #expect(decision.reason == "own-record")
        #expect(decision.anchor == anchor)
        let sets = try EndorsedSets(granted).sets
        #expect(sets.keys.sorted() == ["audit", "phi"], "the patient rule reads no access key")
        #expect(sets["phi"]?.rangeQueriesInfo.first?.rawReads.kvReads.count == 1, "latest: a range over the record's versions")
        #expect(sets["phi"]?.writes.isEmpty == true)
        let auditKeys = try (sets["audit"]?.writes ?? []).map { try CompositeKey.split($0.key).objectType }
        #expect(auditKeys.sorted() == ["AUDIT", "AUDITACTOR", "AUDITTIME"])
        try fixture.commit(granted)

        // Denied, and still endorsed with its audit entry: a doctor without consent. The access
        // namespace records the consent and emergency keys read (absent).
        let denied = try fixture.endorse("access", ["request", "rec-1", "1"], as: carter)
        #expect(denied.response.status == 200)
        #expect(denied.hasEndorsement)
        #expect(try JSONDecoder().decode(AccessDecision.self, from: denied.response.payload).reason == "no-consent")
        let deniedSets = try EndorsedSets(denied).sets
        #expect(deniedSets.keys.sorted() == ["access", "audit", "phi"])
        #expect(deniedSets["access"]?.reads.count == 3)
        #expect(deniedSets["access"]?.reads.allSatisfy { !$0.hasVersion } == true)
        #expect(deniedSets["phi"]?.reads.count == 1, "a specific version is a point read")
        try fixture.commit(denied)

        // Both entries are on the ledger, readable by the patient.
        let trail = try fixture.endorse("audit", ["byPatient", patient], as: ana)
        let entries = try JSONDecoder().decode([AuditEntry].self, from: trail.response.payload).filter { $0.action == "read" }
        #expect(entries.map(\.decision) == ["granted", "denied"] || entries.map(\.decision) == ["denied", "granted"])
        #expect(Set(entries.map(\.actor)) == ["HospitalAMSP/pat-ana", "HospitalAMSP/dr-carter"])
        #expect(try fixture.endorse("audit", ["byPatient", patient], as: carter).response.status == 403)

        // A missing record: 404, no endorsement.
        let missing = try fixture.endorse("access", ["request", "rec-404", "latest"], as: ana)
        #expect(missing.response.status == 404)
        #expect(!missing.hasEndorsement)
    }

    @Test func twoEndorsersAgreeByteForByteOnADecision() throws {
        let fixture = try HealthEndorsementFixture()
        let operatorA = try fixture.identity("op-a", ["role": "operator"])
        let anchorJSON = #"{"recordID":"rec-1","version":1,"sha256":"\#(digest(1))","patient":"HospitalAMSP/pat-ana","custodian":"HospitalAMSP","resourceType":"Observation","cipher":"AES-256-GCM","keyWrap":"ECDH-ES"}"#
        try fixture.commit(try fixture.endorse("phi", ["anchor", anchorJSON], as: operatorA))
        let second = try HealthEndorsementFixture.service(pki: fixture.pki, peerName: "peer1", resources: fixture.resources)
        for signer in [operatorA, try fixture.identity("dr-carter", ["role": "consulting_doctor"])] {
            let proposal = try ProposalFactory.make(
                channel: HealthEndorsementFixture.channel, chaincode: "access", arguments: ["request", "rec-1", "latest"], signer: signer,
                timestamp: TestPKI.now)
            let first = fixture.service.processProposal(proposal)
            let other = second.processProposal(proposal)
            #expect(first.response.status == 200)
            #expect(first.payload == other.payload, "proposal response payloads differ")
            #expect(first.endorsement.endorser != other.endorsement.endorser)
        }
    }

    @Test func aTraineesOrderCarriesAKeyLevelPolicyTheValidatorParses() throws {
        let fixture = try HealthEndorsementFixture()
        let trainee = try fixture.identity("dr-young", ["role": "consulting_doctor", "is_trainee": "true", "specialty": "cardiology"])
        let created = try fixture.endorse("clinical", ["createOrder", "ord-1", "HospitalAMSP/pat-ana", "cardiology", digest(5)], as: trainee)
        #expect(created.response.status == 200, "\(created.response.message)")
        let set = try #require(try EndorsedSets(created).sets["clinical"])
        let orderKey = try CompositeKey.make(objectType: "ORDER", attributes: ["ord-1"])
        #expect(set.metadataWrites.map(\.key) == [orderKey])
        let entry = try #require(set.metadataWrites.first?.entries.first)
        #expect(entry.name == StateMetadataName.validationParameter)
        let policy = try EndorsementPolicy.parse(String(decoding: entry.value, as: UTF8.self))
        #expect(policy == (try EndorsementPolicy.parse("AND('HospitalAMSP.peer','HospitalAMSP.client[specialty=cardiology,is_supervisor=true]')")))
        try fixture.commit(created)

        let supervisor = try fixture.identity("dr-senior", ["role": "consulting_doctor", "is_supervisor": "true", "specialty": "cardiology"])
        let cosigned = try fixture.endorse("clinical", ["cosignOrder", "ord-1"], as: supervisor)
        #expect(cosigned.response.status == 200, "\(cosigned.response.message)")
        #expect(try EndorsedSets(cosigned).sets["clinical"]?.writes.map(\.key) == [orderKey])
    }
}
