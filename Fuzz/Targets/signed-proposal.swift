// Fuzz target `signed-proposal` (structure-aware): the input is a serialized Protos_SignedProposal.
// LLVMFuzzerCustomMutator decodes it down to the chaincode invocation, mutates inner fields (channel
// header type, channel, txid, timestamps including extreme values, epoch, the chaincode named,
// nonce, creator, arguments, transient data) with libFuzzer's mutator on the chosen sub-field, then
// re-binds the txid and re-signs the proposal with the creator's fixed test key, so the checks
// behind the signature and the chaincode simulation are reached. Each input goes through the
// endorser (EndorsementService.processProposal: ProposalChecker.check, the built-in chaincodes
// simulated over an in-memory state, a signed response) (Endorser).
import BuiltInChaincodes
import Chaincode
import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import WorldState

@testable import Endorser

private let contracts = builtInContracts
private let chaincodeNames = contracts.keys.sorted()
private let functionNames: [String] = Array(Set(contracts.values.flatMap { $0.router.functionNames })).sorted()

private let patient = "HospitalAMSP/pat-ana"
private let digest = String(repeating: "0", count: 63) + "1"
private let anchorJSON =
    #"{"recordID":"rec-1","version":1,"sha256":"\#(digest)","patient":"\#(patient)","custodian":"HospitalAMSP","resourceType":"Observation","cipher":"AES-256-GCM","keyWrap":"ECDH-ES"}"#
private let interestingArguments = [
    "rec-1", "latest", "1", "0", "-1", "4294967296", patient, "HospitalAMSP/dr-carter", "HospitalAMSP", "HospitalBMSP", "doctor", "hospital",
    "cardiology", digest, "ord-1", "cardio-3", "2026-09-22T09:00:00Z", "2026-09-22T09:00:00+01:00", "9999-12-31T23:59:59Z", anchorJSON, "acct-0",
    "", "\u{0}", String(repeating: "x", count: 300),
]

/// The endorser under test: HospitalA's peer0 over a state where a record is anchored, a consent
/// granted, a patient admitted and a trainee's order waits for a co-signature.
private let service: EndorsementService = {
    let state = InMemoryStateDatabase()
    var seed = StateUpdateBatch()
    for (index, name) in chaincodeNames.enumerated() where name != ChaincodeDefinition.namespace {
        seed.put(
            namespace: ChaincodeDefinition.namespace, key: ChaincodeDefinition.definitionKey(name),
            value: ChaincodeDefinition(name: name, version: "1.0", sequence: 1, endorsementPolicy: "").canonicalJSON,
            version: StateVersion(blockNumber: 0, transactionNumber: UInt32(index)))
    }
    do {
        try state.apply(seed, blockNumber: 0)
        let resources = ChannelEndorsementResources(
            state: state, history: { _, _ in [] }, isCommitted: { $0 == "committed" },
            chaincodes: contracts.mapValues { (version: $0 is LifecycleContract ? ChaincodeDefinition.lifecycleVersion : "1.0", contract: $0) })
        let service = EndorsementService(
            signer: FuzzNetwork.hospitalA["peer0"], membership: FuzzNetwork.applicationMembership, channels: [FuzzPKI.channel: resources],
            clock: { FuzzPKI.now })
        let a = FuzzNetwork.hospitalA
        let setup: [(String, [String], SigningIdentity)] = [
            ("phi", ["anchor", anchorJSON], a["op-a"]),
            ("access", ["grant", patient, "doctor", "HospitalAMSP/dr-carter"], a["pat-ana"]),
            ("access", ["assignWard", patient, "cardio-3"], a["op-a"]),
            ("clinical", ["createOrder", "ord-1", patient, "cardiology", digest], a["student-sam"]),
            ("accounts", ["open", "0", "4", "100"], a["dr-carter"]),
        ]
        for (block, (chaincode, arguments, signer)) in setup.enumerated() {
            let response = service.processProposal(try ProposalFactory.make(
                channel: FuzzPKI.channel, chaincode: chaincode, arguments: arguments, signer: signer, timestamp: FuzzPKI.now,
                nonce: Array(repeating: UInt8(block + 100), count: 24)))
            guard response.response.status == 200 else { fuzzSetupFailure("setup call \(chaincode) \(arguments[0]): \(response.response.message)") }
            try commit(response, to: state, block: UInt64(block + 1))
        }
        return service
    } catch {
        fuzzSetupFailure("endorsement service: \(error)")
    }
}()

/// Applies an endorsed response's writes as block `block`, as a committer would.
private func commit(_ response: Protos_ProposalResponse, to state: InMemoryStateDatabase, block: UInt64) throws {
    let payload = try Protos_ProposalResponsePayload(serializedBytes: response.payload)
    let action = try Protos_ChaincodeAction(serializedBytes: payload.extension)
    var batch = StateUpdateBatch()
    let version = StateVersion(blockNumber: block, transactionNumber: 0)
    for namespaceSet in try Rwset_TxReadWriteSet(serializedBytes: action.results).nsRwset {
        let set = try Kvrwset_KVRWSet(serializedBytes: namespaceSet.rwset)
        for write in set.writes {
            if write.isDelete {
                batch.delete(namespace: namespaceSet.namespace, key: write.key, version: version)
            } else {
                batch.put(namespace: namespaceSet.namespace, key: write.key, value: Array(write.value), version: version)
            }
        }
        for write in set.metadataWrites {
            batch.putMetadata(
                namespace: namespaceSet.namespace, key: write.key,
                metadata: Dictionary(write.entries.map { ($0.name, Array($0.value)) }, uniquingKeysWith: { _, last in last }), version: version)
        }
    }
    try state.apply(batch, blockNumber: block)
}

private func templates() throws -> [(name: String, bytes: Data)] {
    let a = FuzzNetwork.hospitalA, b = FuzzNetwork.hospitalB
    let calls: [(String, [String], SigningIdentity)] = [
        ("access", ["request", "rec-1", "latest"], a["dr-carter"]),
        ("phi", ["get", "rec-1", "1"], a["pat-ana"]),
        ("clinical", ["cosignOrder", "ord-1"], a["dr-shah"]),
        ("vitals", ["record", patient, "ecg-7", "2026-09-22T09:00:00+01:00", digest, "rec-1"], a["nurse-ng"]),
        ("audit", ["byPatient", patient], a["pat-ana"]),
        ("accounts", ["transfer", "acct-0", "acct-1", "30"], a["dr-carter"]),
        ("counters", ["add", "beds", "5"], b["lab-lee"]),
        ("kv", ["put", "k", "v"], a["dr-carter"]),
        ("_lifecycle", ["approve", "newcc", "1.0", "1", "'HospitalAMSP.peer'"], a["admin"]),
    ]
    var seeds: [(name: String, bytes: Data)] = []
    for (index, (chaincode, arguments, signer)) in calls.enumerated() {
        let signed = try ProposalFactory.make(
            channel: FuzzPKI.channel, chaincode: chaincode, arguments: arguments, transient: index == 0 ? ["reason": Array("care".utf8)] : [:],
            signer: signer, timestamp: FuzzPKI.now, nonce: Array(repeating: UInt8(index), count: 24))
        seeds.append(("\(chaincode)-\(arguments[0])", try signed.serializedData()))
    }
    return seeds
}

private let fallbackTemplates: [Data] = (try? templates().map(\.bytes)) ?? []

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    writeSeedsIfAsked { try templates() }
    _ = service
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSignedProposal(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let signed = try? Protos_SignedProposal(serializedBytes: fuzzData(data, size)) else { return 0 }
    let response = service.processProposal(signed)
    fuzzTrace("endorsement: \(response.response.status) \(response.response.message)")
    return 0
}

// MARK: - The structure-aware mutator

private struct ProposalParts: MutableMessageParts {
    var channelHeader: Common_ChannelHeader
    var headerExtension: Protos_ChaincodeHeaderExtension
    var signatureHeader: Common_SignatureHeader
    var proposal: Protos_Proposal
    var payload: Protos_ChaincodeProposalPayload
    var invocation: Protos_ChaincodeInvocationSpec
    var signature: Data

    var bindTransactionID = true
    var signProposal = true
    var rawChannelHeader: Data?
    var rawInvocation: Data?

    init?(_ bytes: Data) {
        guard let signed = try? Protos_SignedProposal(serializedBytes: bytes),
            let proposal = try? Protos_Proposal(serializedBytes: signed.proposalBytes),
            let header = try? Common_Header(serializedBytes: proposal.header),
            let channelHeader = try? Common_ChannelHeader(serializedBytes: header.channelHeader),
            let signatureHeader = try? Common_SignatureHeader(serializedBytes: header.signatureHeader),
            let payload = try? Protos_ChaincodeProposalPayload(serializedBytes: proposal.payload)
        else { return nil }
        self.channelHeader = channelHeader
        headerExtension = (try? Protos_ChaincodeHeaderExtension(serializedBytes: channelHeader.extension)) ?? .init()
        self.signatureHeader = signatureHeader
        self.proposal = proposal
        self.payload = payload
        invocation = (try? Protos_ChaincodeInvocationSpec(serializedBytes: payload.input)) ?? .init()
        signature = signed.signature
    }

    mutating func mutate(_ random: inout MutationRandom) {
        switch random.below(16) {
        case 0: channelHeader.type = random.pick(Interesting.headerTypes)
        case 1: channelHeader.channelID = mutatedString(channelHeader.channelID, Interesting.channels, &random)
        case 2, 3: if random.chance(90) { channelHeader.timestamp = Interesting.timestamp(&random) } else { channelHeader.clearTimestamp() }
        case 4: channelHeader.epoch = random.pick([0, 1, UInt64.max])
        case 5:
            if random.chance(10) { headerExtension.clearChaincodeID() } else {
                let name = mutatedString(headerExtension.chaincodeID.name, chaincodeNames + ["", "nosuch"], &random)
                headerExtension.chaincodeID.name = name
                if random.chance(70) { invocation.chaincodeSpec.chaincodeID.name = name }
            }
        case 6: signatureHeader.nonce = random.chance(20) ? Data() : fuzzerMutated(signatureHeader.nonce)
        case 7: signatureHeader.creator = mutatedCreator(signatureHeader.creator, &random)
        case 8, 9, 10, 11: mutateArguments(&random)
        case 12:
            if random.chance(60) {
                payload.transientMap[random.pick(["reason", "k", "", "key\u{0}"])] = fuzzerMutated(Data())
            } else {
                payload.transientMap = [:]
            }
        case 13:
            if random.chance(50), let bytes = try? channelHeader.serializedData() {
                rawChannelHeader = fuzzerMutated(bytes)
            } else if let bytes = try? invocation.serializedData() {
                rawInvocation = fuzzerMutated(bytes, growth: 64)
            }
        case 14: proposal.extension = fuzzerMutated(proposal.extension)
        default:
            switch random.below(3) {
            case 0: bindTransactionID = false; channelHeader.txID = fuzzerMutated(channelHeader.txID)
            case 1: signProposal = false; signature = fuzzerMutated(signature)
            default: invocation.chaincodeSpec.type = random.pick([.golang, .node, .java, .car, .undefined, .UNRECOGNIZED(99)])
            }
        }
    }

    private mutating func mutateArguments(_ random: inout MutationRandom) {
        var arguments = invocation.chaincodeSpec.input.args
        if arguments.isEmpty { arguments = [Data(random.pick(functionNames).utf8)] }
        switch random.below(6) {
        case 0: arguments[0] = Data(random.pick(functionNames).utf8)
        case 1: arguments.insert(Data(random.pick(interestingArguments).utf8), at: 1 + random.below(arguments.count))
        case 2: if arguments.count > 1 { arguments.remove(at: 1 + random.below(arguments.count - 1)) }
        case 3:
            let index = random.below(arguments.count)
            arguments[index] = Data(random.pick(interestingArguments).utf8)
        default:
            let index = random.below(arguments.count)
            arguments[index] = fuzzerMutated(arguments[index], growth: 64)
        }
        invocation.chaincodeSpec.input.args = Array(arguments.prefix(32))
    }

    func assemble() throws -> Data {
        var channelHeader = channelHeader
        channelHeader.extension = try headerExtension.serializedData()
        if bindTransactionID { channelHeader.txID = TransactionID.make(nonce: signatureHeader.nonce, creator: signatureHeader.creator) }
        var header = Common_Header()
        header.channelHeader = try rawChannelHeader ?? channelHeader.serializedData()
        header.signatureHeader = try signatureHeader.serializedData()
        var payload = payload
        payload.input = try rawInvocation ?? invocation.serializedData()
        var proposal = proposal
        proposal.header = try header.serializedData()
        proposal.payload = try payload.serializedData()
        var signed = Protos_SignedProposal()
        signed.proposalBytes = try proposal.serializedData()
        signed.signature = signature
        if signProposal, let creator = FuzzNetwork.signers[signatureHeader.creator] {
            signed.signature = Data(try creator.sign(signed.proposalBytes))
        }
        return try signed.serializedData()
    }
}

@_cdecl("LLVMFuzzerCustomMutator")
public func fuzzSignedProposalMutator(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    mutateMessage(ProposalParts.self, data, size, maxSize, seed, templates: fallbackTemplates)
}
