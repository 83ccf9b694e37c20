// Fuzz target `block`: bytes → Common_Block → BlockVerifier.verify and BlockValidator (prepare,
// then resolve against an InMemoryStateDatabase) (Committer), then the state changes of the
// validated block applied (WorldState); a config block also → ChannelConfig(block:) and the
// orderer's channel settings from it (NetworkConfig, Orderer). Fabric's recorded blocks (channel
// "anchor") are checked against Fabric's recorded MSPs, everything else against the fixed test PKI.
import BlockIntegrity
import Foundation
import Identity
import LedgerCore
import Committer
import LedgerWire
import NetworkConfig
import Orderer
import SwiftProtobuf
import WorldState

/// Fabric's recorded channel "anchor": its orderer and Org1 MSPs, `anchorcc` defined at the
/// version its recorded transactions name.
private let fabricChannel: ChannelUnderTest? = {
    guard let directory = fabricVectorsDirectory(), let providers = FabricVectorPKI.providers(directory) else { return nil }
    var version = "1.0"
    if let bytes = try? Data(contentsOf: directory.appendingPathComponent("peer-block-3.pb")), let block = try? Common_Block(serializedBytes: bytes),
        let envelope = block.data.data.first, let transaction = try? TransactionEnvelope(serialized: envelope),
        let endorsed = try? EndorserTransaction(payloadData: transaction.payload.data)
    {
        version = endorsed.chaincodeAction.chaincodeID.version
    }
    guard let orderers = try? EndorsementPolicy.parse("'OrdererMSP.orderer'"), let peers = try? EndorsementPolicy.parse("'Org1MSP.peer'") else { return nil }
    return ChannelUnderTest(
        verifier: BlockVerifier(membership: MembershipRegistry([providers.orderer]), blockValidationPolicy: orderers),
        validator: BlockValidator(channelID: "anchor", membership: MembershipRegistry([providers.org1]), lifecyclePolicy: peers, defaultPolicy: peers),
        definitions: [ChaincodeDefinition(name: "anchorcc", version: version, sequence: 1, endorsementPolicy: "")],
        time: FabricVectorPKI.recordedAt)
}()

private func syntheticBlocks() throws -> [(name: String, bytes: Data)] {
    let a = FuzzNetwork.hospitalA
    var valid = SignedTransactionSpec()
    valid.reads = [("a", (0, 0))]
    valid.writes = [("a", [9])]
    var conflict = SignedTransactionSpec()
    conflict.reads = [("b", (0, 7)), ("new", nil)]
    conflict.writes = [("b", [1])]
    conflict.nonce = Array(repeating: 1, count: 24)
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
    let transactions = try [valid, conflict, keyPolicy, twoPeers].map { try $0.envelope().serializedData() }
    var seeds: [(name: String, bytes: Data)] = []
    for (name, envelopes) in [("synthetic-block-4tx", transactions), ("synthetic-block-1tx", [transactions[0]]), ("synthetic-block-dup", [transactions[0], transactions[0]])] {
        var block = Common_Block(number: 1, previousHash: [UInt8](repeating: 7, count: 32), envelopes: envelopes)
        try block.signAsOrderer(FuzzNetwork.orderers["orderer0"], lastConfigIndex: 0, time: FuzzPKI.now, nonce: [1, 2, 3])
        seeds.append((name, try block.serializedData()))
    }
    return seeds
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    writeSeedsIfAsked {
        var seeds = try syntheticBlocks()
        if let directory = fabricVectorsDirectory() {
            for number in [0, 1, 2, 3, 4] {
                if let bytes = try? Data(contentsOf: directory.appendingPathComponent("peer-block-\(number).pb")) { seeds.append(("fabric-block-\(number)", bytes)) }
            }
        }
        return seeds
    }
    _ = fixedChannel
    _ = fabricChannel
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBlock(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let block = try? Common_Block(serializedBytes: fuzzData(data, size)) else { return 0 }
    _ = block.header.hash
    _ = block.hasConsistentDataHash
    fuzzTrace("ordering time: \(block.orderingTime.map { "\($0)" } ?? "none")")
    _ = block.transactionValidationCodes
    if let config = try? ChannelConfig(block: block) {
        fuzzTrace("config block of channel \(config.channelID)")
        _ = config.blockValidationPolicy
        _ = config.lifecycleEndorsementPolicy
        _ = config.chaincodeEndorsementPolicy
        _ = try? ChannelOrderingSettings(config: config)
    }
    guard block.data.data.count <= Limits.blockTransactionCountMax else { return 0 }
    let firstChannel = block.data.data.first.flatMap { try? TransactionEnvelope(serialized: $0) }?.channelHeader.channelID
    let channel = firstChannel == "anchor" ? (fabricChannel ?? fixedChannel) : fixedChannel

    do {
        let signers = try channel.verifier.verify(block, expectedNumber: block.header.number, previousHeaderHash: block.header.previousHash, at: channel.time)
        fuzzTrace("verified, signed by \(signers.map(\.mspID))")
    } catch {
        fuzzTrace("verification: \(error)")
    }

    let state = channel.state()
    guard let reader = try? state.makeReader() else { return 0 }
    let validator = channel.validator
    let prepared = runBlocking { await validator.prepare(block, workers: 1) }
    guard let results = try? validator.resolve(prepared, blockNumber: 1, reader: reader, isCommitted: { $0 == "committed-txid" }),
        results.count == block.data.data.count
    else { return 0 }
    fuzzTrace("validation: \(results.map { "\($0.code)" })")
    // Commit what validation accepted, as the committer does.
    var validated = block
    validated.setValidationCodes(results.map(\.code))
    if let batch = try? BlockStateUpdates.derive(from: validated) { _ = try? state.apply(batch, blockNumber: 1) }
    return 0
}
