// Fuzz target `signed-envelope` (structure-aware): the input is a serialized Common_Envelope of an
// endorser transaction. LLVMFuzzerCustomMutator decodes it down to its read/write sets, mutates
// inner fields (headers, timestamps including extreme values, rwset namespaces/keys/versions,
// metadata writes, range queries, the chaincode action, endorsements, arguments) with libFuzzer's
// mutator on the chosen sub-field, then re-binds the txid and proposal hash and re-signs the
// endorsements and the envelope with the fixed test keys, so the checks behind the signatures are
// reached. Each input then goes through the orderer's broadcast checks and dependency reordering
// (Orderer), and block validation with a commit of its outcome (Committer, WorldState).
import BlockIntegrity
import Foundation
import Identity
import LedgerCore
import Committer
import LedgerWire
import Orderer
import SwiftProtobuf
import WorldState

private let broadcast: BroadcastValidator = {
    do {
        let members = try EndorsementPolicy.parse("OR('HospitalAMSP.member', 'HospitalBMSP.member')")
        return BroadcastValidator(settings: ChannelOrderingSettings(
            channelID: FuzzPKI.channel, membership: FuzzNetwork.applicationMembership, writers: members, readers: members,
            blockValidation: try EndorsementPolicy.parse("'OrdererMSP.orderer'"),
            batchLimits: BatchLimits(maxMessageCount: 10, absoluteMaxBytes: 1 << 20, preferredMaxBytes: 1 << 19), batchTimeout: .seconds(2)))
    } catch {
        fuzzSetupFailure("broadcast settings: \(error)")
    }
}()

/// A valid transaction that reads "a" and writes "b": the neighbour in reordering and validation.
private let neighbour: Data = {
    var spec = SignedTransactionSpec()
    spec.reads = [("a", (0, 0))]
    spec.writes = [("b", [1])]
    spec.nonce = Array(repeating: 9, count: 24)
    do { return try spec.envelope().serializedData() } catch { fuzzSetupFailure("neighbour transaction: \(error)") }
}()

/// The SIGNATURES metadata of a block the fixed orderer cut at FuzzPKI.now (validation reads the
/// ordering time from it; the signature itself is BlockVerifier's concern, not exercised here).
private let orderedMetadata: Data = {
    var block = Common_Block(number: 1, previousHash: [UInt8](repeating: 0, count: 32), envelopes: [])
    do {
        try block.signAsOrderer(FuzzNetwork.orderers["orderer0"], lastConfigIndex: 0, time: FuzzPKI.now, nonce: [1])
    } catch {
        fuzzSetupFailure("orderer metadata: \(error)")
    }
    return block.metadata.metadata[Int(Common_BlockMetadataIndex.signatures.rawValue)]
}()

private func templates() throws -> [(name: String, bytes: Data)] {
    let a = FuzzNetwork.hospitalA
    var plain = SignedTransactionSpec()
    plain.reads = [("a", (0, 0)), ("new", nil)]
    plain.writes = [("a", [9]), ("gone", nil)]
    var keyPolicy = SignedTransactionSpec()
    keyPolicy.writes = [("order", [4])]
    keyPolicy.endorsers = [a["dr-shah"], a["peer0"]]
    keyPolicy.metadataWrites = [("a", ["VALIDATION_PARAMETER": Array("'HospitalBMSP.peer'".utf8)])]
    keyPolicy.nonce = Array(repeating: 2, count: 24)
    var twoPeers = SignedTransactionSpec()
    twoPeers.chaincode = "two"
    twoPeers.endorsers = [a["peer0"], a["peer1"]]
    twoPeers.writes = [("x", [1])]
    twoPeers.range = ("a", "c", [("a", 0, 0), ("b", 0, 1)])
    twoPeers.nonce = Array(repeating: 3, count: 24)
    var lifecycle = SignedTransactionSpec()
    lifecycle.chaincode = ChaincodeDefinition.namespace
    lifecycle.version = ChaincodeDefinition.lifecycleVersion
    lifecycle.creator = a["admin"]
    lifecycle.endorsers = [a["peer0"], FuzzNetwork.hospitalB["peer0"]]
    lifecycle.writes = [(ChaincodeDefinition.definitionKey("newcc"), ChaincodeDefinition(name: "newcc", version: "1.0", sequence: 1, endorsementPolicy: "").canonicalJSON)]
    lifecycle.arguments = ["commit", "newcc", "1.0", "1"]
    lifecycle.nonce = Array(repeating: 4, count: 24)
    return try [("plain", plain), ("key-policy", keyPolicy), ("two-peers-range", twoPeers), ("lifecycle", lifecycle)].map {
        (name: $0.0, bytes: try $0.1.envelope().serializedData())
    }
}

private let fallbackTemplates: [Data] = (try? templates().map(\.bytes)) ?? []

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    writeSeedsIfAsked { try templates() }
    _ = broadcast
    _ = neighbour
    _ = orderedMetadata
    _ = fixedChannel
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSignedEnvelope(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzData(data, size)
    guard let envelope = try? Common_Envelope(serializedBytes: bytes) else { return 0 }
    let refusal = broadcast.refusal(of: envelope, serializedSize: bytes.count, now: FuzzPKI.now)
    fuzzTrace("broadcast: \(refusal.map { "\($0.status) \($0.info)" } ?? "accepted")")
    _ = DependencyReordering.reorder([bytes, neighbour, bytes])

    var assembled = Common_Block(number: 1, previousHash: [UInt8](repeating: 0, count: 32), envelopes: [neighbour, bytes])
    assembled.metadata.metadata[Int(Common_BlockMetadataIndex.signatures.rawValue)] = orderedMetadata
    let block = assembled
    let channel = fixedChannel
    let state = channel.state()
    guard let reader = try? state.makeReader() else { return 0 }
    let validator = channel.validator
    let prepared = runBlocking { await validator.prepare(block, workers: 1) }
    guard let results = try? validator.resolve(prepared, blockNumber: 1, reader: reader, isCommitted: { $0 == "committed-txid" }) else { return 0 }
    fuzzTrace("validation: \(results.map { "\($0.code)" })")
    var validated = block
    validated.setValidationCodes(results.map(\.code))
    if let batch = try? BlockStateUpdates.derive(from: validated) { _ = try? state.apply(batch, blockNumber: 1) }
    return 0
}

// MARK: - The structure-aware mutator

/// An endorser transaction envelope taken apart down to its KV read/write sets.
private struct EnvelopeParts: MutableMessageParts {
    var channelHeader: Common_ChannelHeader
    var headerExtension: Protos_ChaincodeHeaderExtension
    var signatureHeader: Common_SignatureHeader
    var transaction: Protos_Transaction
    var actionPayload: Protos_ChaincodeActionPayload
    var proposalPayload: Protos_ChaincodeProposalPayload
    var invocation: Protos_ChaincodeInvocationSpec
    var responsePayload: Protos_ProposalResponsePayload
    var action: Protos_ChaincodeAction
    var readWriteSet: Rwset_TxReadWriteSet
    var sets: [Kvrwset_KVRWSet]
    var signature: Data

    // Which bindings and signatures the re-assembly restores.
    var bindTransactionID = true
    var bindActionHeader = true
    var bindProposalHash = true
    var signEndorsements = true
    var signEnvelope = true
    /// Raw replacements that skip re-encoding a layer (a mutated serialized sub-message).
    var rawChannelHeader: Data?
    var rawSetIndex: Int?
    var rawSet: Data?

    init?(_ bytes: Data) {
        guard let envelope = try? Common_Envelope(serializedBytes: bytes),
            let payload = try? Common_Payload(serializedBytes: envelope.payload),
            let channelHeader = try? Common_ChannelHeader(serializedBytes: payload.header.channelHeader),
            let signatureHeader = try? Common_SignatureHeader(serializedBytes: payload.header.signatureHeader),
            let transaction = try? Protos_Transaction(serializedBytes: payload.data), let first = transaction.actions.first,
            let actionPayload = try? Protos_ChaincodeActionPayload(serializedBytes: first.payload),
            let proposalPayload = try? Protos_ChaincodeProposalPayload(serializedBytes: actionPayload.chaincodeProposalPayload),
            let responsePayload = try? Protos_ProposalResponsePayload(serializedBytes: actionPayload.action.proposalResponsePayload),
            let action = try? Protos_ChaincodeAction(serializedBytes: responsePayload.extension),
            let readWriteSet = try? Rwset_TxReadWriteSet(serializedBytes: action.results)
        else { return nil }
        self.channelHeader = channelHeader
        headerExtension = (try? Protos_ChaincodeHeaderExtension(serializedBytes: channelHeader.extension)) ?? .init()
        self.signatureHeader = signatureHeader
        self.transaction = transaction
        self.actionPayload = actionPayload
        self.proposalPayload = proposalPayload
        invocation = (try? Protos_ChaincodeInvocationSpec(serializedBytes: proposalPayload.input)) ?? .init()
        self.responsePayload = responsePayload
        self.action = action
        self.readWriteSet = readWriteSet
        sets = readWriteSet.nsRwset.map { (try? Kvrwset_KVRWSet(serializedBytes: $0.rwset)) ?? .init() }
        signature = envelope.signature
    }

    mutating func mutate(_ random: inout MutationRandom) {
        switch random.below(22) {
        case 0: channelHeader.type = random.pick(Interesting.headerTypes)
        case 1: channelHeader.channelID = mutatedString(channelHeader.channelID, Interesting.channels, &random)
        case 2, 3: if random.chance(90) { channelHeader.timestamp = Interesting.timestamp(&random) } else { channelHeader.clearTimestamp() }
        case 4: channelHeader.epoch = random.pick([0, 1, UInt64.max])
        case 5:
            if random.chance(15) { headerExtension.clearChaincodeID() } else {
                headerExtension.chaincodeID.name = mutatedString(headerExtension.chaincodeID.name, Interesting.namespaces, &random)
            }
        case 6: signatureHeader.nonce = random.chance(20) ? Data() : fuzzerMutated(signatureHeader.nonce)
        case 7: signatureHeader.creator = mutatedCreator(signatureHeader.creator, &random)
        case 8: mutateNamespace(&random)
        case 9, 10: mutateReads(&random)
        case 11, 12: mutateWrites(&random)
        case 13: mutateMetadataWrites(&random)
        case 14: mutateRangeQueries(&random)
        case 15: mutateAction(&random)
        case 16, 17: mutateEndorsements(&random)
        case 18:
            if invocation.chaincodeSpec.input.args.isEmpty || random.chance(30) {
                invocation.chaincodeSpec.input.args.append(fuzzerMutated(Data("put".utf8)))
            } else {
                let index = random.below(invocation.chaincodeSpec.input.args.count)
                invocation.chaincodeSpec.input.args[index] = fuzzerMutated(invocation.chaincodeSpec.input.args[index])
            }
        case 19:
            // Another or one fewer transaction action; an unbound action header.
            switch random.below(3) {
            case 0: transaction.actions.append(transaction.actions[0])
            case 1: bindActionHeader = false; transaction.actions[0].header = fuzzerMutated(transaction.actions[0].header)
            default: if transaction.actions.count > 1 { transaction.actions.removeLast() }
            }
        case 20:
            // A mutated serialized layer, not re-encoded.
            if random.chance(50), let bytes = try? channelHeader.serializedData() {
                rawChannelHeader = fuzzerMutated(bytes)
            } else if !sets.isEmpty, let bytes = try? sets[0].serializedData() {
                rawSetIndex = 0
                rawSet = fuzzerMutated(bytes)
            }
        default:
            // A binding or a signature left as it is (or broken).
            switch random.below(5) {
            case 0: bindTransactionID = false; channelHeader.txID = fuzzerMutated(channelHeader.txID)
            case 1: bindProposalHash = false; responsePayload.proposalHash = fuzzerMutated(responsePayload.proposalHash)
            case 2: signEndorsements = false
            case 3: signEnvelope = false; signature = fuzzerMutated(signature)
            default: readWriteSet.dataModel = random.chance(50) ? .kv : .UNRECOGNIZED(random.below(5) + 1)
            }
        }
    }

    private mutating func setIndex(_ random: inout MutationRandom) -> Int {
        if sets.isEmpty {
            sets.append(.init())
            var namespaceSet = Rwset_NsReadWriteSet()
            namespaceSet.namespace = "cc"
            readWriteSet.nsRwset.append(namespaceSet)
        }
        return random.below(sets.count)
    }

    private mutating func mutateNamespace(_ random: inout MutationRandom) {
        let index = setIndex(&random)
        switch random.below(3) {
        case 0:
            readWriteSet.nsRwset[index].namespace = mutatedString(readWriteSet.nsRwset[index].namespace, Interesting.namespaces, &random)
        case 1:
            // A second namespace (or the same one twice).
            readWriteSet.nsRwset.append(readWriteSet.nsRwset[index])
            sets.append(sets[index])
            if random.chance(60) { readWriteSet.nsRwset[readWriteSet.nsRwset.count - 1].namespace = random.pick(Interesting.namespaces) }
        default:
            if sets.count > 1 { readWriteSet.nsRwset.remove(at: index); sets.remove(at: index) }
        }
    }

    private mutating func mutateReads(_ random: inout MutationRandom) {
        let index = setIndex(&random)
        var reads = sets[index].reads
        if reads.isEmpty || random.chance(25) {
            var read = Kvrwset_KVRead()
            read.key = random.pick(Interesting.keys)
            if random.chance(70) { read.version.blockNum = random.pick(Interesting.blockNumbers); read.version.txNum = random.pick(Interesting.transactionNumbers) }
            reads.insert(read, at: random.below(reads.count + 1))
        } else {
            let position = random.below(reads.count)
            switch random.below(5) {
            case 0: reads[position].key = mutatedString(reads[position].key, Interesting.keys, &random)
            case 1: reads[position].version.blockNum = random.chance(50) ? random.pick(Interesting.blockNumbers) : reads[position].version.blockNum &+ 1
            case 2: reads[position].version.txNum = random.chance(50) ? random.pick(Interesting.transactionNumbers) : reads[position].version.txNum &+ 1
            case 3: reads[position].clearVersion()
            default: reads.remove(at: position)
            }
        }
        sets[index].reads = reads
    }

    private mutating func mutateWrites(_ random: inout MutationRandom) {
        let index = setIndex(&random)
        var writes = sets[index].writes
        if writes.isEmpty || random.chance(25) {
            var write = Kvrwset_KVWrite()
            write.key = random.pick(Interesting.keys)
            write.value = Data([UInt8(random.below(256))])
            write.isDelete = random.chance(20)
            writes.insert(write, at: random.below(writes.count + 1))
        } else {
            let position = random.below(writes.count)
            switch random.below(5) {
            case 0: writes[position].key = mutatedString(writes[position].key, Interesting.keys, &random)
            case 1: writes[position].value = fuzzerMutated(writes[position].value, growth: 256)
            case 2: writes[position].isDelete.toggle()
            case 3: writes.append(writes[position])
            default: writes.remove(at: position)
            }
        }
        sets[index].writes = writes
    }

    private mutating func mutateMetadataWrites(_ random: inout MutationRandom) {
        let index = setIndex(&random)
        var writes = sets[index].metadataWrites
        if writes.isEmpty || random.chance(30) {
            var write = Kvrwset_KVMetadataWrite()
            write.key = random.pick(Interesting.keys)
            var entry = Kvrwset_KVMetadataEntry()
            entry.name = random.pick(Interesting.metadataNames)
            entry.value = Data(random.pick(Interesting.policies).utf8)
            write.entries = Array(repeating: entry, count: random.chance(10) ? 20 : 1)
            writes.append(write)
        } else {
            let position = random.below(writes.count)
            switch random.below(4) {
            case 0: writes[position].key = mutatedString(writes[position].key, Interesting.keys, &random)
            case 1:
                if writes[position].entries.isEmpty { writes[position].entries.append(.init()) }
                let entry = random.below(writes[position].entries.count)
                writes[position].entries[entry].value = random.chance(50)
                    ? Data(random.pick(Interesting.policies).utf8) : fuzzerMutated(writes[position].entries[entry].value, growth: 64)
            case 2:
                var entry = Kvrwset_KVMetadataEntry()
                entry.name = mutatedString("VALIDATION_PARAMETER", Interesting.metadataNames, &random)
                entry.value = fuzzerMutated(Data())
                writes[position].entries.append(entry)
            default: writes[position].entries.removeAll()
            }
        }
        sets[index].metadataWrites = writes
    }

    private mutating func mutateRangeQueries(_ random: inout MutationRandom) {
        let index = setIndex(&random)
        var queries = sets[index].rangeQueriesInfo
        if queries.isEmpty || random.chance(25) {
            var query = Kvrwset_RangeQueryInfo()
            query.startKey = random.pick(Interesting.keys)
            query.endKey = random.pick(Interesting.keys)
            query.itrExhausted = random.chance(70)
            query.rawReads.kvReads = sets[index].reads
            queries.append(query)
        } else {
            let position = random.below(queries.count)
            switch random.below(6) {
            case 0: queries[position].startKey = mutatedString(queries[position].startKey, Interesting.keys, &random)
            case 1: queries[position].endKey = mutatedString(queries[position].endKey, Interesting.keys, &random)
            case 2: queries[position].itrExhausted.toggle()
            case 3:
                var read = Kvrwset_KVRead()
                read.key = random.pick(Interesting.keys)
                read.version.blockNum = random.pick(Interesting.blockNumbers)
                read.version.txNum = random.pick(Interesting.transactionNumbers)
                queries[position].rawReads.kvReads.insert(read, at: random.below(queries[position].rawReads.kvReads.count + 1))
            case 4:
                var hashes = Kvrwset_QueryReadsMerkleSummary()
                hashes.maxDegree = UInt32(random.below(4))
                hashes.maxLevel = UInt32(random.below(4))
                hashes.maxLevelHashes = [fuzzerMutated(Data(repeating: 0, count: 32))]
                queries[position].readsMerkleHashes = hashes
            default: queries.remove(at: position)
            }
        }
        sets[index].rangeQueriesInfo = queries
    }

    private mutating func mutateAction(_ random: inout MutationRandom) {
        switch random.below(5) {
        case 0: action.chaincodeID.name = mutatedString(action.chaincodeID.name, Interesting.namespaces, &random)
        case 1: action.chaincodeID.version = mutatedString(action.chaincodeID.version, Interesting.versions, &random)
        case 2:
            var event = Protos_ChaincodeEvent()
            event.chaincodeID = random.chance(60) ? action.chaincodeID.name : random.pick(Interesting.namespaces)
            event.eventName = fuzzerMutated("evt")
            event.payload = fuzzerMutated(Data())
            action.events = random.chance(80) ? ((try? event.serializedData()) ?? Data()) : fuzzerMutated(action.events)
        case 3: action.response.status = random.pick([200, 400, 500, 0, -1, Int32.max])
        default: action.clearChaincodeID()
        }
    }

    private mutating func mutateEndorsements(_ random: inout MutationRandom) {
        var endorsements = actionPayload.action.endorsements
        switch random.below(5) {
        case 0:
            var endorsement = Protos_Endorsement()
            endorsement.endorser = Data(random.pick(FuzzNetwork.allIdentities).serialized)
            endorsements.append(endorsement)
        case 1: if !endorsements.isEmpty { endorsements.remove(at: random.below(endorsements.count)) }
        case 2: if !endorsements.isEmpty { endorsements.append(endorsements[random.below(endorsements.count)]) }
        case 3:
            if !endorsements.isEmpty {
                let index = random.below(endorsements.count)
                endorsements[index].endorser = mutatedCreator(endorsements[index].endorser, &random)
            }
        default:
            if !endorsements.isEmpty {
                let index = random.below(endorsements.count)
                endorsements[index].signature = fuzzerMutated(endorsements[index].signature)
                signEndorsements = false
            }
        }
        actionPayload.action.endorsements = endorsements
    }

    /// Re-assembles the envelope, restoring the bindings and signatures asked for.
    func assemble() throws -> Data {
        var readWriteSet = readWriteSet
        for (index, set) in sets.enumerated() where index < readWriteSet.nsRwset.count {
            readWriteSet.nsRwset[index].rwset = index == rawSetIndex ? (rawSet ?? Data()) : try set.serializedData()
        }
        var action = action
        action.results = try readWriteSet.serializedData()
        var responsePayload = responsePayload
        responsePayload.extension = try action.serializedData()
        let signatureHeaderBytes = try signatureHeader.serializedData()
        var channelHeader = channelHeader
        channelHeader.extension = try headerExtension.serializedData()
        if bindTransactionID { channelHeader.txID = TransactionID.make(nonce: signatureHeader.nonce, creator: signatureHeader.creator) }
        let channelHeaderBytes = try rawChannelHeader ?? channelHeader.serializedData()
        var proposalPayload = proposalPayload
        proposalPayload.input = try invocation.serializedData()
        proposalPayload.transientMap = [:]
        let proposalPayloadBytes = try proposalPayload.serializedData()
        if bindProposalHash {
            responsePayload.proposalHash = ProposalHash.of(
                channelHeader: channelHeaderBytes, signatureHeader: signatureHeaderBytes, proposalPayload: proposalPayloadBytes)
        }
        let responsePayloadBytes = try responsePayload.serializedData()
        var actionPayload = actionPayload
        actionPayload.chaincodeProposalPayload = proposalPayloadBytes
        actionPayload.action.proposalResponsePayload = responsePayloadBytes
        if signEndorsements {
            for index in actionPayload.action.endorsements.indices {
                let endorser = actionPayload.action.endorsements[index].endorser
                if let signer = FuzzNetwork.signers[endorser] {
                    actionPayload.action.endorsements[index].signature = Data(try signer.sign(responsePayloadBytes + endorser))
                }
            }
        }
        var transaction = transaction
        transaction.actions[0].payload = try actionPayload.serializedData()
        if bindActionHeader { transaction.actions[0].header = signatureHeaderBytes }
        var payload = Common_Payload()
        payload.header.channelHeader = channelHeaderBytes
        payload.header.signatureHeader = signatureHeaderBytes
        payload.data = try transaction.serializedData()
        var envelope = Common_Envelope()
        envelope.payload = try payload.serializedData()
        envelope.signature = signature
        if signEnvelope, let creator = FuzzNetwork.signers[signatureHeader.creator] {
            envelope.signature = Data(try creator.sign(envelope.payload))
        }
        return try envelope.serializedData()
    }
}

@_cdecl("LLVMFuzzerCustomMutator")
public func fuzzSignedEnvelopeMutator(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    mutateMessage(EnvelopeParts.self, data, size, maxSize, seed, templates: fallbackTemplates)
}
