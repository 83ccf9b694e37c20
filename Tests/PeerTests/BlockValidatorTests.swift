import BlockIntegrity
import Foundation
import Identity
import Orderer
import LedgerCore
import LedgerWire
import SwiftProtobuf
import Testing
import TestSupport
import WorldState
@testable import Committer
@testable import GatewayService
@testable import NodeClients
@testable import PeerDaemon
@testable import PhiService


/// Transactions built and signed as clients and endorsers do, validated as a committing peer does.
struct ValidationFixture {
    let pki: TestPKI
    let peer: SigningIdentity
    let otherPeer: SigningIdentity
    let client: SigningIdentity
    let supervisor: SigningIdentity
    let state = InMemoryStateDatabase()
    let validator: BlockValidator

    init() throws {
        pki = try TestPKI()
        peer = try pki.identity("peer0", units: ["peer"])
        otherPeer = try pki.identity("peer1", units: ["peer"])
        client = try pki.identity("dr", units: ["client"])
        supervisor = try pki.identity("dr-shah", units: ["client"], attributes: ["is_supervisor": "true"])
        var seed = StateUpdateBatch()
        seed.put(namespace: "cc", key: "a", value: [1], version: StateVersion(blockNumber: 0, transactionNumber: 0))
        seed.put(namespace: "cc", key: "b", value: [2], version: StateVersion(blockNumber: 0, transactionNumber: 1))
        seed.put(namespace: "cc", key: "order", value: [3], version: StateVersion(blockNumber: 0, transactionNumber: 2))
        seed.putMetadata(namespace: "cc", key: "order", metadata: [StateMetadataName.validationParameter: Array("'HospitalAMSP.client[is_supervisor=true]'".utf8)],
                         version: StateVersion(blockNumber: 0, transactionNumber: 2))
        // The channel's committed definitions: "cc" with the channel's default policy, "two" with
        // its own, and "old" at another version than the transactions run.
        for (index, definition) in [
            ChaincodeDefinition(name: "cc", version: "1.0", sequence: 1, endorsementPolicy: ""),
            ChaincodeDefinition(name: "two", version: "1.0", sequence: 1, endorsementPolicy: "AND('HospitalAMSP.peer', 'HospitalAMSP.peer')"),
            ChaincodeDefinition(name: "old", version: "2.0", sequence: 2, endorsementPolicy: ""),
        ].enumerated() {
            seed.put(
                namespace: ChaincodeDefinition.namespace, key: ChaincodeDefinition.definitionKey(definition.name), value: definition.canonicalJSON,
                version: StateVersion(blockNumber: 0, transactionNumber: UInt32(3 + index)))
        }
        try state.apply(seed, blockNumber: 0)
        validator = BlockValidator(
            channelID: "healthchannel", membership: MembershipRegistry([try pki.msp()]),
            lifecyclePolicy: try EndorsementPolicy.parse("AND('HospitalAMSP.peer', 'HospitalAMSP.peer')"),
            defaultPolicy: try EndorsementPolicy.parse("'HospitalAMSP.peer'"))
    }

    struct Read { var key: String; var version: (UInt64, UInt64)? }

    func transaction(
        chaincode: String = "cc", reads: [Read] = [], writes: [String] = [], range: (start: String, end: String, keys: [(String, UInt64, UInt64)])? = nil,
        endorsers: [SigningIdentity]? = nil, creator: SigningIdentity? = nil, nonce: [UInt8]? = nil,
        tamper: ((inout Common_Envelope) throws -> Void)? = nil, adjust: ((inout EndorserTransactionBuilder) -> Void)? = nil
    ) throws -> Data {
        let creator = creator ?? client
        var builder = EndorserTransactionBuilder(
            channelID: "healthchannel", chaincodeName: chaincode, creator: Data(creator.serialized),
            nonce: Data(nonce ?? (0..<24).map { _ in UInt8.random(in: 0...255) }), timestamp: TestPKI.now)
        builder.chaincodeVersion = "1.0"
        var set = Kvrwset_KVRWSet()
        set.reads = reads.map { read in
            var kvRead = Kvrwset_KVRead()
            kvRead.key = read.key
            if let version = read.version { kvRead.version.blockNum = version.0; kvRead.version.txNum = version.1 }
            return kvRead
        }
        set.writes = writes.map { key in
            var write = Kvrwset_KVWrite()
            write.key = key
            write.value = Data([9])
            return write
        }
        if let range {
            var info = Kvrwset_RangeQueryInfo()
            info.startKey = range.start
            info.endKey = range.end
            info.itrExhausted = true
            info.rawReads.kvReads = range.keys.map { key, block, tx in
                var read = Kvrwset_KVRead()
                read.key = key
                read.version.blockNum = block
                read.version.txNum = tx
                return read
            }
            set.rangeQueriesInfo = [info]
        }
        builder.readWriteSets = [("cc", set)]
        adjust?(&builder)
        let responsePayload = try builder.proposalResponsePayload()
        builder.endorsements = try (endorsers ?? [peer]).map { endorser in
            var endorsement = Protos_Endorsement()
            endorsement.endorser = Data(endorser.serialized)
            endorsement.signature = Data(try endorser.sign(responsePayload + endorser.serialized))
            return endorsement
        }
        var envelope = try builder.envelope { Data(try creator.sign($0)) }
        try tamper?(&envelope)
        return try envelope.serializedData()
    }

    /// Validates `transactions` as block 1; with `orderingTime`, the block carries the orderer's
    /// signed clock.
    func validate(_ transactions: [Data], committed: Set<String> = [], orderingTime: Date? = nil) async throws -> [Protos_TxValidationCode] {
        var block = Common_Block(number: 1, previousHash: [UInt8](repeating: 0, count: 32), envelopes: transactions)
        if let orderingTime { try block.signAsOrderer(peer, lastConfigIndex: 0, time: orderingTime, nonce: [1, 2, 3]) }
        return try await validator.validate(block, reader: try state.makeReader(), isCommitted: { committed.contains($0) }).map(\.code)
    }
}

@Suite struct BlockValidatorTests {
    @Test func acceptsAWellEndorsedTransaction() async throws {
        let fixture = try ValidationFixture()
        #expect(try await fixture.validate([try fixture.transaction(reads: [.init(key: "a", version: (0, 0))], writes: ["a"])]) == [.valid])
    }

    @Test func readConflictsAgainstStateAndEarlierTransactionsOfTheBlock() async throws {
        let fixture = try ValidationFixture()
        let first = try fixture.transaction(reads: [.init(key: "a", version: (0, 0))], writes: ["a"])
        let second = try fixture.transaction(reads: [.init(key: "a", version: (0, 0))], writes: ["a"])
        let stale = try fixture.transaction(reads: [.init(key: "b", version: (0, 7))], writes: ["b"])
        let absent = try fixture.transaction(reads: [.init(key: "new", version: nil)], writes: ["new"])
        let absentAgain = try fixture.transaction(reads: [.init(key: "new", version: nil)], writes: ["new"])
        #expect(try await fixture.validate([first, second, stale, absent, absentAgain]) == [.valid, .mvccReadConflict, .mvccReadConflict, .valid, .mvccReadConflict])
    }

    /// Fabric applies a metadata write to the key as it is at that transaction: a metadata-only
    /// write gives an existing key a new version (a later read in the block of the old version
    /// conflicts), and metadata written to a key that does not exist yet is dropped, so a
    /// key-level policy set that way does not bind the transaction that creates the key.
    @Test func metadataWritesApplyToTheKeyAsItIsAtThatTransaction() async throws {
        let fixture = try ValidationFixture()
        func metadataWrite(_ key: String, policy: String, reads: [(String, UInt64, UInt64)] = []) throws -> Data {
            var set = AdversarialValidationTests.readWriteSet(reads: reads)
            var write = Kvrwset_KVMetadataWrite()
            write.key = key
            var entry = Kvrwset_KVMetadataEntry()
            entry.name = StateMetadataName.validationParameter
            entry.value = Data(policy.utf8)
            write.entries = [entry]
            set.metadataWrites = [write]
            return try fixture.transaction(adjust: { $0.readWriteSets = [("cc", set)] })
        }
        let setPolicyOnA = try metadataWrite("a", policy: "'HospitalAMSP.peer'")
        let readsOldA = try fixture.transaction(reads: [.init(key: "a", version: (0, 0))], writes: ["b"])
        #expect(try await fixture.validate([setPolicyOnA, readsOldA]) == [.valid, .mvccReadConflict])

        // An admin-only policy on a key that does not exist yet, then the key created by a peer's
        // endorsement alone: the policy was dropped, so the creation is valid.
        let policyOnGhost = try metadataWrite("ghost", policy: "'HospitalAMSP.admin'")
        let createGhost = try fixture.transaction(reads: [.init(key: "ghost", version: nil)], writes: ["ghost"])
        #expect(try await fixture.validate([policyOnGhost, createGhost]) == [.valid, .valid])
        // The same policy on an existing key binds the next writer in the block.
        let policyOnB = try metadataWrite("b", policy: "'HospitalAMSP.admin'")
        let writeB = try fixture.transaction(writes: ["b"])
        #expect(try await fixture.validate([policyOnB, writeB]) == [.valid, .endorsementPolicyFailure])
    }

    @Test func phantomsInRangeQueries() async throws {
        let fixture = try ValidationFixture()
        let range = (start: "a", end: "c", keys: [("a", UInt64(0), UInt64(0)), ("b", UInt64(0), UInt64(1))])
        #expect(try await fixture.validate([try fixture.transaction(writes: ["x"], range: range)]) == [.valid])
        let insert = try fixture.transaction(writes: ["ab"])
        let scan = try fixture.transaction(writes: ["x"], range: range)
        #expect(try await fixture.validate([insert, scan]) == [.valid, .phantomReadConflict])
    }

    @Test func chaincodeAndKeyLevelPolicies() async throws {
        let fixture = try ValidationFixture()
        #expect(try await fixture.validate([try fixture.transaction(writes: ["a"], endorsers: [fixture.client])]) == [.endorsementPolicyFailure])
        // The order key carries its own policy: a supervisor's co-signature, not a peer's.
        #expect(try await fixture.validate([try fixture.transaction(writes: ["order"], endorsers: [fixture.peer])]) == [.endorsementPolicyFailure])
        #expect(try await fixture.validate([try fixture.transaction(writes: ["order"], endorsers: [fixture.supervisor])]) == [.valid])
        // A write to the order key and to a plain key needs both policies.
        #expect(try await fixture.validate([try fixture.transaction(writes: ["order", "a"], endorsers: [fixture.supervisor])]) == [.endorsementPolicyFailure])
        #expect(try await fixture.validate([try fixture.transaction(writes: ["order", "a"], endorsers: [fixture.supervisor, fixture.peer])]) == [.valid])
        // One peer endorsing twice counts once.
        #expect(try await fixture.validate([try fixture.transaction(chaincode: "two", writes: ["a"], endorsers: [fixture.peer, fixture.peer])]) == [.endorsementPolicyFailure])
        #expect(try await fixture.validate([try fixture.transaction(chaincode: "two", writes: ["a"], endorsers: [fixture.peer, fixture.otherPeer])]) == [.valid])
    }

    @Test func forgedEndorsementsDoNotCount() async throws {
        let fixture = try ValidationFixture()
        let forged = try fixture.transaction(writes: ["a"]) { envelope in
            var payload = try Common_Payload(serializedBytes: envelope.payload)
            var transaction = try Protos_Transaction(serializedBytes: payload.data)
            var action = try Protos_ChaincodeActionPayload(serializedBytes: transaction.actions[0].payload)
            action.action.endorsements[0].signature = Data(try fixture.peer.sign(Array("something else".utf8)))
            transaction.actions[0].payload = try action.serializedData()
            payload.data = try transaction.serializedData()
            envelope.payload = try payload.serializedData()
            envelope.signature = Data(try fixture.client.sign(envelope.payload))
        }
        #expect(try await fixture.validate([forged]) == [.endorsementPolicyFailure])
    }

    @Test func structuralFailuresGetFabricsCodes() async throws {
        let fixture = try ValidationFixture()
        let nonce = (0..<24).map { UInt8($0) }
        let once = try fixture.transaction(writes: ["a"], nonce: nonce)
        let again = try fixture.transaction(writes: ["b"], nonce: nonce)
        let badSignature = try fixture.transaction(writes: ["a"]) { $0.signature = Data(try fixture.client.sign(Array("x".utf8))) }
        let stranger = try TestPKI(mspID: "HospitalBMSP", domain: "b.test").identity("eve")
        let unknownCreator = try fixture.transaction(writes: ["a"], creator: stranger)
        let wrongTxID = try fixture.transaction(writes: ["a"]) { envelope in
            var payload = try Common_Payload(serializedBytes: envelope.payload)
            var header = try Common_ChannelHeader(serializedBytes: payload.header.channelHeader)
            header.txID = String(repeating: "0", count: 64)
            payload.header.channelHeader = try header.serializedData()
            envelope.payload = try payload.serializedData()
            envelope.signature = Data(try fixture.client.sign(envelope.payload))
        }
        let unknownChaincode = try fixture.transaction(chaincode: "nosuch", writes: ["a"])
        let otherVersion = try fixture.transaction(chaincode: "old", writes: ["a"])
        let codes = try await fixture.validate([once, again, badSignature, unknownCreator, wrongTxID, unknownChaincode, otherVersion, Data([0xff, 0x00])])
        #expect(codes == [.valid, .duplicateTxid, .badCreatorSignature, .badCreatorSignature, .badProposalTxid, .invalidChaincode, .expiredChaincode, .nilEnvelope])
        let committedID = try TransactionEnvelope(serialized: once).channelHeader.txID
        #expect(try await fixture.validate([once], committed: [committedID]) == [.duplicateTxid])
    }
}

@Suite struct BlockSignatureChecksTests {
    /// Answers from memory agree with fresh checks: the same triple gives the same signer; another
    /// message, another signature or a time outside the certificate's validity gives none.
    @Test func remembersEachCheckWithoutChangingItsAnswer() throws {
        let pki = try TestPKI()
        let doctor = try pki.identity("dr", units: ["client"], days: 2)
        let checks = BlockSignatureChecks(membership: MembershipRegistry([try pki.msp()]))
        let message = Data("payload".utf8)
        let signature = Data(try doctor.sign(message))
        let identity = Data(doctor.serialized)
        let first = checks.verify(signature: signature, over: message, by: identity, at: TestPKI.now)
        #expect(first?.mspID == "HospitalAMSP")
        #expect(checks.verify(signature: signature, over: message, by: identity, at: TestPKI.now) == first)
        #expect(checks.verify(signature: signature, over: Data("other".utf8), by: identity, at: TestPKI.now) == nil)
        var flipped = signature
        flipped[flipped.count - 1] ^= 1
        #expect(checks.verify(signature: flipped, over: message, by: identity, at: TestPKI.now) == nil)
        #expect(checks.verify(signature: signature, over: message, by: identity, at: TestPKI.now.addingTimeInterval(3 * 86_400)) == nil)
    }
}
