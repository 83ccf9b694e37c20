import Endorser
import Foundation
import Identity
import LedgerCore
import LedgerWire
import Testing
import TestSupport
@testable import Committer
@testable import GatewayService
@testable import NodeClients
@testable import PeerDaemon
@testable import PhiService


/// A peer remembers the endorsements it signed and its committer validates them without a second
/// ECDSA verification; every other signature is verified as before.
@Suite struct OwnSignaturesTests {
    /// The first endorsement of a serialized transaction: the signed bytes and the signature.
    private func endorsement(of transaction: Data) throws -> (message: Data, signature: Data) {
        let decoded = try EndorserTransaction(payloadData: try TransactionEnvelope(serialized: transaction).payload.data)
        let endorsement = try #require(decoded.endorsements.first)
        return (decoded.proposalResponsePayload + endorsement.endorser, endorsement.signature)
    }

    /// `transaction` with its first endorsement's signature changed by `change`, and the envelope
    /// signed again by the fixture's client (so only the endorsement is wrong).
    private func changingEndorsementSignature(of transaction: Data, _ fixture: ValidationFixture, _ change: (inout Data) -> Void) throws -> Data {
        var envelope = try Common_Envelope(serializedBytes: transaction)
        var payload = try Common_Payload(serializedBytes: envelope.payload)
        var decoded = try Protos_Transaction(serializedBytes: payload.data)
        var action = try Protos_ChaincodeActionPayload(serializedBytes: decoded.actions[0].payload)
        change(&action.action.endorsements[0].signature)
        decoded.actions[0].payload = try action.serializedData()
        payload.data = try decoded.serializedData()
        envelope.payload = try payload.serializedData()
        envelope.signature = Data(try fixture.client.sign(envelope.payload))
        return try envelope.serializedData()
    }

    private func validator(_ fixture: ValidationFixture, own: OwnSignatures) throws -> BlockValidator {
        BlockValidator(
            channelID: fixture.validator.channelID, membership: fixture.validator.membership, lifecyclePolicy: fixture.validator.lifecyclePolicy,
            defaultPolicy: fixture.validator.defaultPolicy, own: OwnEndorsements(identity: fixture.peer.serialized, signatures: own))
    }

    private func validate(_ validator: BlockValidator, _ fixture: ValidationFixture, _ transactions: [Data]) async throws -> [Protos_TxValidationCode] {
        let block = Common_Block(number: 1, previousHash: [UInt8](repeating: 0, count: 32), envelopes: transactions)
        return try await validator.validate(block, reader: try fixture.state.makeReader(), isCommitted: { _ in false }).map(\.code)
    }

    @Test func rememberedEndorsementIsTrustedOthersAreVerified() async throws {
        let fixture = try ValidationFixture()
        let own = OwnSignatures()
        let validator = try validator(fixture, own: own)
        let mine = try fixture.transaction(writes: ["a"])
        let (message, signature) = try endorsement(of: mine)
        own.record(signature: signature, over: message)
        #expect(own.contains(signature: signature, over: message))
        // A good endorsement that was not recorded is verified and accepted as before.
        let unrecorded = try fixture.transaction(writes: ["b"])
        // An endorsement whose signature was altered is not in the record: verified, refused.
        let altered = try changingEndorsementSignature(of: try fixture.transaction(writes: ["b"]), fixture) { $0[8] ^= 0x01 }
        #expect(try await validate(validator, fixture, [mine, unrecorded, altered]) == [.valid, .valid, .endorsementPolicyFailure])
    }

    @Test func recordIsTrustedOnlyForThePeersOwnIdentity() async throws {
        let fixture = try ValidationFixture()
        let own = OwnSignatures()
        let validator = try validator(fixture, own: own)
        // White box: a signature recorded by hand is not verified again when the endorser is this
        // peer (the record is trusted), but the same record does nothing for another identity.
        let byPeer = try fixture.transaction(writes: ["a"])
        let byOther = try fixture.transaction(writes: ["a"], endorsers: [fixture.otherPeer])
        let bogus = Data(repeating: 0x30, count: 70)
        for transaction in [byPeer, byOther] {
            let (message, _) = try endorsement(of: transaction)
            own.record(signature: bogus, over: message)
        }
        let forged = { (transaction: Data) throws -> Data in try self.changingEndorsementSignature(of: transaction, fixture) { $0 = bogus } }
        #expect(try await validate(validator, fixture, [try forged(byPeer), try forged(byOther)]) == [.valid, .endorsementPolicyFailure])
    }

    @Test func forgetsTheOldestBeyondItsCapacity() {
        let own = OwnSignatures(capacity: 2)
        let messages = (0..<3).map { Data("message \($0)".utf8) }
        for message in messages { own.record(signature: Data([1, 2, 3]), over: message) }
        #expect(!own.contains(signature: Data([1, 2, 3]), over: messages[0]))
        #expect(own.contains(signature: Data([1, 2, 3]), over: messages[1]))
        #expect(own.contains(signature: Data([1, 2, 3]), over: messages[2]))
        #expect(!own.contains(signature: Data([1, 2, 4]), over: messages[2]))
    }
}
