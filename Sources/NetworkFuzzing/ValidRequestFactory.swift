import Endorser
import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf

/// Well-formed, signed request messages for every method, made by the fuzzer's client identity
/// (and its admin identity where a client is refused before anything is read): the starting
/// points that reach past the decoders into signature checks, policies, chaincode and the ledger.
/// They are made afresh for each batch (timestamps within the nodes' skew).
package struct ValidRequestFactory: Sendable {
    package let signer: SigningIdentity
    /// Signs half of the seek envelopes and the PeerAdmin requests (see `NetworkFuzzConfiguration.admin`).
    package let admin: SigningIdentity
    package let channel: String
    /// A chaincode the nodes know (a built-in one): proposals for it reach the chaincode.
    package let chaincode: String
    /// Blocks that are no config block, for JoinChannel requests signed by the admin: refused
    /// after the block is read, never joined.
    package let joinBlocks: [[UInt8]]
    /// JoinChannel requests with a seed block per batch (each is signed).
    static let joinBlocksPerBatch = 2

    package init(signer: SigningIdentity, admin: SigningIdentity, channel: String, chaincode: String = "kv", joinBlocks: [[UInt8]] = []) {
        self.signer = signer
        self.admin = admin
        self.channel = channel
        self.chaincode = chaincode
        self.joinBlocks = joinBlocks.filter { !SeedCorpus.holdsConfiguration($0) }
    }

    /// A valid request message and who signed it (a re-signed mutation is signed by the same).
    struct Message: Sendable {
        let bytes: [UInt8]
        let signedByAdmin: Bool
    }

    /// The identity that signed `message`.
    func signer(of message: Message) -> SigningIdentity { message.signedByAdmin ? admin : signer }

    /// Valid messages of every input kind (none for `.unknown`).
    func messages(now: Date, random: inout FuzzRandom) throws -> [FuzzedMethod.Input: [Message]] {
        let byClient = try clientMessages(now: now, random: &random)
        let byAdmin: [FuzzedMethod.Input: [[UInt8]]] = [
            .seekEnvelope: try seekEnvelopes(now: now, random: &random, by: admin),
            .signedAdminListChannels: [try adminRequest(.listChannels(Medrex_ListChannels()), now: now, by: admin)],
            .signedAdminJoinChannel: try adminJoinRequests(now: now, random: &random),
        ]
        var messages = byClient.mapValues { $0.map { Message(bytes: $0, signedByAdmin: false) } }
        for (input, list) in byAdmin { messages[input, default: []] += list.map { Message(bytes: $0, signedByAdmin: true) } }
        return messages
    }

    private func clientMessages(now: Date, random: inout FuzzRandom) throws -> [FuzzedMethod.Input: [[UInt8]]] {
        let proposals = try proposals(now: now, random: &random)
        let transaction = try transactionEnvelope(now: now, random: &random)
        let proposalBytes = try proposals.map { try $0.serializedBytes() as [UInt8] }
        var messages: [FuzzedMethod.Input: [[UInt8]]] = [:]
        messages[.seekEnvelope] = try seekEnvelopes(now: now, random: &random, by: signer)
        messages[.transactionEnvelope] = [transaction]
        messages[.signedProposal] = proposalBytes
        messages[.endorsementRequest] = try proposals.map { proposal in
            var request = Medrex_EndorsementRequest()
            request.correlationID = random.next()
            request.proposal = proposal
            return try request.serializedBytes()
        }
        messages[.transactRequest] = try proposals.map { proposal in
            var request = Medrex_TransactRequest()
            request.correlationID = random.next()
            request.channelID = channel
            request.proposal = proposal
            return try request.serializedBytes()
        } + [try transactSubmission(transaction, random: &random)]
        messages[.endorseRequest] = try proposals.map { proposal in
            var request = Gateway_EndorseRequest()
            request.transactionID = try Self.transactionID(of: proposal)
            request.channelID = channel
            request.proposedTransaction = proposal
            return try request.serializedBytes()
        }
        messages[.evaluateRequest] = try proposals.map { proposal in
            var request = Gateway_EvaluateRequest()
            request.transactionID = try Self.transactionID(of: proposal)
            request.channelID = channel
            request.proposedTransaction = proposal
            return try request.serializedBytes()
        }
        messages[.submitRequest] = [try submitRequest(transaction)]
        messages[.signedCommitStatusRequest] = [try commitStatusRequest(random: &random)]
        messages[.signedChaincodeEventsRequest] = try chaincodeEventsRequests()
        // Refused for who signed them (the admin's are in `messages`).
        messages[.signedAdminListChannels] = [try adminRequest(.listChannels(Medrex_ListChannels()), now: now, by: signer)]
        messages[.signedAdminJoinChannel] = [try adminRequest(.joinChannel(Medrex_JoinChannel()), now: now, by: signer)]
        messages[.signedPhiPut] = [try phiRequest(.put(phiPut(proposals[0])), now: now)]
        messages[.signedPhiGet] = [try phiRequest(.get(phiGet(random: &random)), now: now)]
        messages[.signedPhiVerify] = [try phiRequest(.verify(phiVerify()), now: now)]
        // Key status (no rotation: the fuzzer does not change the network's keys) and an erasure
        // whose proposal is no `phi erase`: refused.
        messages[.signedPhiKeys] = [try phiRequest(.keys(Medrex_PhiKeys()), now: now)]
        var erase = Medrex_PhiErase()
        erase.erasureProposal = proposals[0]
        messages[.signedPhiErase] = [try phiRequest(.erase(erase), now: now)]
        return messages
    }

    /// The DELIVER_SEEK_INFO envelope for blocks `start...stop` (nil: the newest block) that the
    /// liveness checks send as well.
    package func seekEnvelope(
        start: UInt64?, stop: UInt64?, behavior: Orderer_SeekInfo.SeekBehavior, now: Date, nonce: [UInt8], by signer: SigningIdentity
    ) throws -> [UInt8] {
        var seek = Orderer_SeekInfo()
        if let start { seek.start.specified.number = start } else { seek.start.newest = Orderer_SeekNewest() }
        if let stop { seek.stop.specified.number = stop } else { seek.stop.newest = Orderer_SeekNewest() }
        seek.behavior = behavior
        var channelHeader = Common_ChannelHeader()
        channelHeader.type = Int32(Common_HeaderType.deliverSeekInfo.rawValue)
        channelHeader.channelID = channel
        channelHeader.timestamp = Google_Protobuf_Timestamp(date: now)
        var signatureHeader = Common_SignatureHeader()
        signatureHeader.creator = Data(signer.serialized)
        signatureHeader.nonce = Data(nonce)
        var payload = Common_Payload()
        payload.header.channelHeader = try channelHeader.serializedData()
        payload.header.signatureHeader = try signatureHeader.serializedData()
        payload.data = try seek.serializedData()
        var envelope = Common_Envelope()
        envelope.payload = try payload.serializedData()
        envelope.signature = Data(try signer.sign(envelope.payload))
        return try envelope.serializedBytes()
    }

    // MARK: The parts

    private func seekEnvelopes(now: Date, random: inout FuzzRandom, by signer: SigningIdentity) throws -> [[UInt8]] {
        let ranges: [(UInt64?, UInt64?, Orderer_SeekInfo.SeekBehavior)] = [
            (0, 0, .blockUntilReady), (nil, nil, .blockUntilReady), (0, 3, .failIfNotReady), (1, 0, .failIfNotReady),
            (UInt64.max, UInt64.max, .blockUntilReady), (UInt64.max - 1, UInt64.max, .failIfNotReady), (0, UInt64.max, .failIfNotReady),
        ]
        return try ranges.map { start, stop, behavior in
            try seekEnvelope(start: start, stop: stop, behavior: behavior, now: now, nonce: random.bytes(count: 24), by: signer)
        }
    }

    private func proposals(now: Date, random: inout FuzzRandom) throws -> [Protos_SignedProposal] {
        let key = "fuzz-\(random.below(16))"
        let invocations: [(String, [String])] = [
            (chaincode, ["get", key]), (chaincode, ["put", key, "\(random.next())"]), (chaincode, []),
            ("_lifecycle", ["definition", chaincode]), ("no-such-chaincode", ["get", key]),
        ]
        return try invocations.map { name, arguments in
            try ProposalFactory.make(channel: channel, chaincode: name, arguments: arguments, signer: signer, timestamp: now, nonce: random.bytes(count: 24))
        }
    }

    /// A blind write of one key, signed by the client and endorsed by nobody: ordered, then
    /// marked invalid by the peers' endorsement policy check.
    private func transactionEnvelope(now: Date, random: inout FuzzRandom) throws -> [UInt8] {
        var builder = EndorserTransactionBuilder(
            channelID: channel, chaincodeName: chaincode, creator: Data(signer.serialized), nonce: Data(random.bytes(count: 24)), timestamp: now)
        var write = Kvrwset_KVWrite()
        write.key = "fuzz-\(random.below(16))"
        write.value = Data("fuzz".utf8)
        var set = Kvrwset_KVRWSet()
        set.writes = [write]
        builder.readWriteSets = [(chaincode, set)]
        let signer = signer
        return try builder.envelope { Data(try signer.sign($0)) }.serializedBytes()
    }

    private func transactSubmission(_ envelope: [UInt8], random: inout FuzzRandom) throws -> [UInt8] {
        var request = Medrex_TransactRequest()
        request.correlationID = random.next()
        request.channelID = channel
        request.signedTransaction = try Common_Envelope(serializedBytes: envelope)
        return try request.serializedBytes()
    }

    private func submitRequest(_ envelope: [UInt8]) throws -> [UInt8] {
        let transaction = try Common_Envelope(serializedBytes: envelope)
        let payload = try Common_Payload(serializedBytes: transaction.payload)
        var request = Gateway_SubmitRequest()
        request.transactionID = try Common_ChannelHeader(serializedBytes: payload.header.channelHeader).txID
        request.channelID = channel
        request.preparedTransaction = transaction
        return try request.serializedBytes()
    }

    /// The status of a transaction that does not exist: the peer waits for it until the call's deadline.
    private func commitStatusRequest(random: inout FuzzRandom) throws -> [UInt8] {
        var request = Gateway_CommitStatusRequest()
        request.transactionID = TransactionID.make(nonce: random.bytes(count: 24), creator: signer.serialized)
        request.channelID = channel
        request.identity = Data(signer.serialized)
        var signed = Gateway_SignedCommitStatusRequest()
        signed.request = try request.serializedData()
        signed.signature = Data(try signer.sign(signed.request))
        return try signed.serializedBytes()
    }

    private func chaincodeEventsRequests() throws -> [[UInt8]] {
        var positions: [Orderer_SeekPosition] = []
        for number in [UInt64(0), .max] {
            var position = Orderer_SeekPosition()
            position.specified.number = number
            positions.append(position)
        }
        var newest = Orderer_SeekPosition()
        newest.newest = Orderer_SeekNewest()
        positions.append(newest)
        return try positions.map { position in
            var request = Gateway_ChaincodeEventsRequest()
            request.channelID = channel
            request.chaincodeID = chaincode
            request.identity = Data(signer.serialized)
            request.startPosition = position
            var signed = Gateway_SignedChaincodeEventsRequest()
            signed.request = try request.serializedData()
            signed.signature = Data(try signer.sign(signed.request))
            return try signed.serializedBytes()
        }
    }

    /// JoinChannel by the admin with no block, with chaincodes but no block, and with seed blocks
    /// that are no config block: refused once the block is read.
    private func adminJoinRequests(now: Date, random: inout FuzzRandom) throws -> [[UInt8]] {
        var withChaincodes = Medrex_JoinChannel()
        var installed = Medrex_InstalledChaincode()
        installed.name = chaincode
        installed.version = "1.0"
        withChaincodes.chaincodes = [installed]
        var requests = [
            try adminRequest(.joinChannel(Medrex_JoinChannel()), now: now, by: admin), try adminRequest(.joinChannel(withChaincodes), now: now, by: admin),
        ]
        if !joinBlocks.isEmpty {
            for _ in 0..<Self.joinBlocksPerBatch {
                var join = Medrex_JoinChannel()
                join.genesisBlock = Data(random.element(of: joinBlocks))
                requests.append(try adminRequest(.joinChannel(join), now: now, by: admin))
            }
        }
        return requests
    }

    private func adminRequest(_ body: Medrex_AdminRequest.OneOf_Body, now: Date, by signer: SigningIdentity) throws -> [UInt8] {
        var request = Medrex_AdminRequest()
        request.identity = Data(signer.serialized)
        request.timestamp = Google_Protobuf_Timestamp(date: now)
        request.body = body
        var signed = Medrex_SignedAdminRequest()
        signed.request = try request.serializedData()
        signed.signature = Data(try signer.sign(signed.request))
        return try signed.serializedBytes()
    }

    private func phiPut(_ anchor: Protos_SignedProposal) -> Medrex_PhiPut {
        var put = Medrex_PhiPut()
        put.record = Data(#"{"resourceType": "Observation", "id": "fuzz-1", "status": "final"}"#.utf8)
        put.anchorProposal = anchor
        return put
    }

    private func phiGet(random: inout FuzzRandom) -> Medrex_PhiGet {
        var get = Medrex_PhiGet()
        get.accessTransactionID = TransactionID.make(nonce: random.bytes(count: 24), creator: signer.serialized)
        return get
    }

    private func phiVerify() -> Medrex_PhiVerify {
        var verify = Medrex_PhiVerify()
        verify.recordID = "fuzz-1"
        verify.version = 1
        verify.patient = "\(signer.mspID)/patient"
        return verify
    }

    private func phiRequest(_ body: Medrex_PhiRequest.OneOf_Body, now: Date) throws -> [UInt8] {
        var request = Medrex_PhiRequest()
        request.identity = Data(signer.serialized)
        request.timestamp = Google_Protobuf_Timestamp(date: now)
        request.channelID = channel
        request.body = body
        var signed = Medrex_SignedPhiRequest()
        signed.request = try request.serializedData()
        signed.signature = Data(try signer.sign(signed.request))
        return try signed.serializedBytes()
    }

    private static func transactionID(of proposal: Protos_SignedProposal) throws -> String {
        let header = try Common_Header(serializedBytes: try Protos_Proposal(serializedBytes: proposal.proposalBytes).header)
        return try Common_ChannelHeader(serializedBytes: header.channelHeader).txID
    }
}
