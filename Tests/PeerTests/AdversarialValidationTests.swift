import Foundation
import Identity
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


/// Transactions crafted by an attacker who holds a client certificate, or one peer's key: each
/// gets Fabric's validation code (or Medrex's documented one) and none makes validation trap.
@Suite struct AdversarialValidationTests {
    /// Rebuilds `transaction`'s envelope after `change`, signed again by `signer` (the envelope
    /// only: endorsements stay as they were).
    static func rewrap(_ transaction: Data, signer: SigningIdentity, _ change: (inout Common_Payload, inout Protos_Transaction) throws -> Void) throws -> Data {
        var envelope = try Common_Envelope(serializedBytes: transaction)
        var payload = try Common_Payload(serializedBytes: envelope.payload)
        var decoded = try Protos_Transaction(serializedBytes: payload.data)
        try change(&payload, &decoded)
        payload.data = try decoded.serializedData()
        envelope.payload = try payload.serializedData()
        envelope.signature = Data(try signer.sign(envelope.payload))
        return try envelope.serializedData()
    }

    /// Changes the chaincode action inside the proposal response payload and has `endorsers`
    /// sign the result again (a colluding endorser set), then re-signs the envelope.
    static func reendorse(
        _ transaction: Data, fixture: ValidationFixture, endorsers: [SigningIdentity], _ change: (inout Protos_ChaincodeAction) throws -> Void
    ) throws -> Data {
        try rewrap(transaction, signer: fixture.client) { _, decoded in
            var actionPayload = try Protos_ChaincodeActionPayload(serializedBytes: decoded.actions[0].payload)
            var responsePayload = try Protos_ProposalResponsePayload(serializedBytes: actionPayload.action.proposalResponsePayload)
            var action = try Protos_ChaincodeAction(serializedBytes: responsePayload.extension)
            try change(&action)
            responsePayload.extension = try action.serializedData()
            let bytes = try responsePayload.serializedData()
            actionPayload.action.proposalResponsePayload = bytes
            actionPayload.action.endorsements = try endorsers.map { endorser in
                var endorsement = Protos_Endorsement()
                endorsement.endorser = Data(endorser.serialized)
                endorsement.signature = Data(try endorser.sign(bytes + endorser.serialized))
                return endorsement
            }
            decoded.actions[0].payload = try actionPayload.serializedData()
        }
    }

    static func readWriteSet(writes: [String] = [], reads: [(String, UInt64, UInt64)] = []) -> Kvrwset_KVRWSet {
        var set = Kvrwset_KVRWSet()
        set.writes = writes.map { key in
            var write = Kvrwset_KVWrite()
            write.key = key
            write.value = Data([7])
            return write
        }
        set.reads = reads.map { key, block, tx in
            var read = Kvrwset_KVRead()
            read.key = key
            read.version.blockNum = block
            read.version.txNum = tx
            return read
        }
        return set
    }

    @Test func versionsBeyondUInt32AreConflictsNotTraps() async throws {
        let fixture = try ValidationFixture()
        let read = try fixture.transaction(reads: [.init(key: "a", version: (0, 1 << 32))], writes: ["a"])
        let range = try fixture.transaction(writes: ["x"], range: (start: "a", end: "b", keys: [("a", 0, 1 << 32)]))
        let maximal = try fixture.transaction(reads: [.init(key: "a", version: (UInt64.max, UInt64.max))], writes: ["a"])
        #expect(try await fixture.validate([read, range, maximal]) == [.mvccReadConflict, .phantomReadConflict, .mvccReadConflict])
        // The gateway's early-abort precheck reads the same way: stale, never a trap.
        let envelope = try TransactionEnvelope(serialized: read)
        let precheck = ReadConflictPrecheck()
        let verdict = try precheck.check(try EndorserTransaction(boundTo: envelope), transactionID: envelope.channelHeader.txID, reader: try fixture.state.makeReader())
        #expect(verdict == .stale)
    }

    /// A patient re-wraps a clinician's endorsed write under her own header (new nonce, so a new
    /// txid): the endorsements signed the clinician's proposal hash, not hers.
    @Test func reWrappedEndorsementsAreRefused() async throws {
        let fixture = try ValidationFixture()
        let patient = try fixture.pki.identity("patient-alice", units: ["client"], attributes: ["role": "patient"])
        let clinicians = try fixture.transaction(writes: ["a"])
        var header = Common_SignatureHeader()
        header.creator = Data(patient.serialized)
        header.nonce = Data((0..<24).map { _ in UInt8.random(in: 0...255) })
        let headerBytes = try header.serializedData()
        let rewrapped = try Self.rewrap(clinicians, signer: patient) { payload, decoded in
            var channelHeader = try Common_ChannelHeader(serializedBytes: payload.header.channelHeader)
            channelHeader.txID = TransactionID.make(nonce: header.nonce, creator: header.creator)
            payload.header.channelHeader = try channelHeader.serializedData()
            payload.header.signatureHeader = headerBytes
            decoded.actions[0].header = headerBytes
        }
        // Only the action's header swapped back to the clinician's: still not bound.
        let mixed = try Self.rewrap(clinicians, signer: fixture.client) { _, decoded in decoded.actions[0].header = headerBytes }
        // The same endorsement with other arguments in the proposal payload.
        let otherArguments = try Self.rewrap(clinicians, signer: fixture.client) { _, decoded in
            var actionPayload = try Protos_ChaincodeActionPayload(serializedBytes: decoded.actions[0].payload)
            var invocation = Protos_ChaincodeInvocationSpec()
            invocation.chaincodeSpec.input.args = [Data("transfer".utf8)]
            var proposalPayload = Protos_ChaincodeProposalPayload()
            proposalPayload.input = try invocation.serializedData()
            actionPayload.chaincodeProposalPayload = try proposalPayload.serializedData()
            decoded.actions[0].payload = try actionPayload.serializedData()
        }
        // A read/write set changed after endorsement: the endorsements no longer verify.
        let changedWrites = try Self.rewrap(clinicians, signer: fixture.client) { _, decoded in
            var actionPayload = try Protos_ChaincodeActionPayload(serializedBytes: decoded.actions[0].payload)
            var responsePayload = try Protos_ProposalResponsePayload(serializedBytes: actionPayload.action.proposalResponsePayload)
            var action = try Protos_ChaincodeAction(serializedBytes: responsePayload.extension)
            var results = try Rwset_TxReadWriteSet(serializedBytes: action.results)
            results.nsRwset[0].rwset = try Self.readWriteSet(writes: ["b"]).serializedData()
            action.results = try results.serializedData()
            responsePayload.extension = try action.serializedData()
            actionPayload.action.proposalResponsePayload = try responsePayload.serializedData()
            decoded.actions[0].payload = try actionPayload.serializedData()
        }
        let codes = try await fixture.validate([rewrapped, mixed, otherArguments, clinicians])
        #expect(codes == [.invalidEndorserTransaction, .invalidEndorserTransaction, .invalidEndorserTransaction, .valid])
        // (Its txid is the clinician's: in the same block it would be a DUPLICATE_TXID.)
        #expect(try await fixture.validate([changedWrites]) == [.endorsementPolicyFailure])
    }

    /// Fabric validates every written namespace under its own chaincode's policy: "cc" (one peer)
    /// cannot carry a write into "two" (two peers) or into `_lifecycle`.
    @Test func everyWrittenNamespaceIsCheckedUnderItsOwnPolicy() async throws {
        let fixture = try ValidationFixture()
        func writing(_ extra: [(String, Kvrwset_KVRWSet)], endorsers: [SigningIdentity]) throws -> Data {
            try fixture.transaction(writes: ["a"], endorsers: endorsers, adjust: { $0.readWriteSets += extra })
        }
        let both = [fixture.peer, fixture.otherPeer]
        let intoTwo = try writing([("two", Self.readWriteSet(writes: ["x"]))], endorsers: [fixture.peer])
        let intoTwoEndorsed = try writing([("two", Self.readWriteSet(writes: ["x"]))], endorsers: both)
        let readOfTwo = try writing([("two", Self.readWriteSet(reads: [("x", 0, 0)]))], endorsers: [fixture.peer])
        let definition = ChaincodeDefinition(name: "cc", version: "1.0", sequence: 2, endorsementPolicy: "'HospitalAMSP.client'")
        var lifecycleWrite = Kvrwset_KVWrite()
        lifecycleWrite.key = ChaincodeDefinition.definitionKey("cc")
        lifecycleWrite.value = Data(definition.canonicalJSON)
        var lifecycleSet = Kvrwset_KVRWSet()
        lifecycleSet.writes = [lifecycleWrite]
        let intoLifecycle = try writing([(ChaincodeDefinition.namespace, lifecycleSet)], endorsers: both)
        let intoUndefined = try writing([("nosuch", Self.readWriteSet(writes: ["x"]))], endorsers: both)
        let twice = try writing([("cc", Self.readWriteSet(writes: ["b"]))], endorsers: both)
        let emptyNamespace = try writing([("", Self.readWriteSet(reads: [("x", 0, 0)]))], endorsers: both)
        let nulNamespace = try writing([("a\u{0}b", Self.readWriteSet(reads: [("x", 0, 0)]))], endorsers: both)
        let codes = try await fixture.validate([intoTwo, intoTwoEndorsed, readOfTwo, intoLifecycle, intoUndefined, twice, emptyNamespace, nulNamespace])
        #expect(codes == [
            .endorsementPolicyFailure, .valid, .mvccReadConflict, .illegalWriteset, .invalidChaincode, .illegalWriteset, .illegalWriteset,
            .illegalWriteset,
        ])
    }

    @Test func headerAndActionRules() async throws {
        let fixture = try ValidationFixture()
        let otherChannel = try fixture.transaction(writes: ["a"], adjust: { $0.channelID = "otherchannel" })
        let epoch = try Self.rewrap(try fixture.transaction(writes: ["a"]), signer: fixture.client) { payload, _ in
            var channelHeader = try Common_ChannelHeader(serializedBytes: payload.header.channelHeader)
            channelHeader.epoch = 1
            payload.header.channelHeader = try channelHeader.serializedData()
        }
        let config = try Self.rewrap(try fixture.transaction(writes: ["a"]), signer: fixture.client) { payload, _ in
            var channelHeader = try Common_ChannelHeader(serializedBytes: payload.header.channelHeader)
            channelHeader.type = Int32(Common_HeaderType.config.rawValue)
            payload.header.channelHeader = try channelHeader.serializedData()
        }
        let message = try Self.rewrap(try fixture.transaction(writes: ["a"]), signer: fixture.client) { payload, _ in
            var channelHeader = try Common_ChannelHeader(serializedBytes: payload.header.channelHeader)
            channelHeader.type = Int32(Common_HeaderType.message.rawValue)
            payload.header.channelHeader = try channelHeader.serializedData()
        }
        // The action names another chaincode than the proposal invoked ("two" instead of "cc").
        let otherAction = try Self.reendorse(try fixture.transaction(writes: ["a"]), fixture: fixture, endorsers: [fixture.peer, fixture.otherPeer]) {
            $0.chaincodeID.name = "two"
        }
        let eventOfAnother = try Self.reendorse(try fixture.transaction(writes: ["a"]), fixture: fixture, endorsers: [fixture.peer]) { action in
            var event = Protos_ChaincodeEvent()
            event.chaincodeID = "two"
            event.eventName = "spoofed"
            action.events = try event.serializedData()
        }
        let codes = try await fixture.validate([otherChannel, epoch, config, message, otherAction, eventOfAnother])
        #expect(codes == [.targetChainNotFound, .badCommonHeader, .invalidConfigTransaction, .badCommonHeader, .invalidChaincode, .invalidOtherReason])
    }

    /// What Medrex cannot validate as Fabric would is refused: private data (collection hashed
    /// read/write sets) and range queries summarized by Merkle hashes.
    @Test func privateDataAndMerkleSummariesAreBadReadWriteSets() async throws {
        let fixture = try ValidationFixture()
        let privateData = try Self.reendorse(try fixture.transaction(writes: ["a"]), fixture: fixture, endorsers: [fixture.peer]) { action in
            var results = try Rwset_TxReadWriteSet(serializedBytes: action.results)
            var collection = Rwset_CollectionHashedReadWriteSet()
            collection.collectionName = "secrets"
            results.nsRwset[0].collectionHashedRwset = [collection]
            action.results = try results.serializedData()
        }
        var set = Kvrwset_KVRWSet()
        var query = Kvrwset_RangeQueryInfo()
        query.startKey = "x"
        query.endKey = "y"
        query.readsMerkleHashes = Kvrwset_QueryReadsMerkleSummary()
        set.rangeQueriesInfo = [query]
        let merkle = try fixture.transaction(writes: [], adjust: { $0.readWriteSets = [("cc", set)] })
        #expect(try await fixture.validate([privateData, merkle]) == [.badRwset, .badRwset])
    }

    @Test func oversizedKeyMetadataIsAnInvalidWriteSet() async throws {
        let fixture = try ValidationFixture()
        var set = Kvrwset_KVRWSet()
        var write = Kvrwset_KVMetadataWrite()
        write.key = "a"
        write.entries = (0..<(Limits.keyMetadataEntriesMax + 1)).map { index in
            var entry = Kvrwset_KVMetadataEntry()
            entry.name = "entry-\(index)"
            return entry
        }
        set.metadataWrites = [write]
        let many = try fixture.transaction(writes: [], adjust: { $0.readWriteSets = [("cc", set)] })
        #expect(try await fixture.validate([many]) == [.invalidWriteset])
    }

    /// The block's ordering time bounds the transaction's: the client cannot stretch time-based
    /// chaincode decisions beyond `Limits.transactionTimeWindow`. Extreme timestamps never trap.
    @Test func transactionTimeIsBoundedByTheBlocksOrderingTime() async throws {
        let fixture = try ValidationFixture()
        let window = Limits.transactionTimeWindow
        let blockTime = TestPKI.now
        func at(_ offset: TimeInterval) throws -> Data {
            try fixture.transaction(writes: ["x"], adjust: { $0.timestamp = blockTime.addingTimeInterval(offset) })
        }
        let codes = try await fixture.validate([try at(-window - 1), try at(-window + 1), try at(window - 1), try at(window + 1)], orderingTime: blockTime)
        #expect(codes == [.badChannelHeader, .valid, .valid, .badChannelHeader])
        // Without an ordering time (a Fabric block or a genesis block) there is no window.
        #expect(try await fixture.validate([try at(window + 1)]) == [.valid])
        // A timestamp of Int64.min seconds: refused, not a trap (SwiftProtobuf's `date` would trap).
        let ancient = try Self.rewrap(try at(0), signer: fixture.client) { payload, _ in
            var channelHeader = try Common_ChannelHeader(serializedBytes: payload.header.channelHeader)
            channelHeader.timestamp.seconds = Int64.min
            payload.header.channelHeader = try channelHeader.serializedData()
        }
        #expect(try await fixture.validate([ancient], orderingTime: blockTime) == [.badChannelHeader])
        #expect(try await fixture.validate([ancient]) == [.badCreatorSignature])
    }
}
