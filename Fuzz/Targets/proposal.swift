// Fuzz target `proposal`: bytes → Protos_SignedProposal → ProposalChecker.check (Endorser) with the
// fixed test MSPs and channel, and with Fabric's recorded Org1MSP and channel "anchor".
import Endorser
import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf

private let checker = ProposalChecker(membership: FuzzNetwork.applicationMembership, channels: [FuzzPKI.channel, "otherchannel"])
/// Fabric's recorded signed proposal (Org1MSP, channel "anchor"), checked at its own timestamp.
private let fabricChecker: ProposalChecker? = fabricVectorsDirectory().flatMap(FabricVectorPKI.providers).map {
    ProposalChecker(membership: MembershipRegistry([$0.org1]), channels: ["anchor"])
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    writeSeedsIfAsked {
        var seeds: [(name: String, bytes: Data)] = []
        if let directory = fabricVectorsDirectory(), let fabric = try? Data(contentsOf: directory.appendingPathComponent("signed-proposal.pb")) {
            seeds.append(("fabric-signed-proposal", fabric))
        }
        let a = FuzzNetwork.hospitalA
        let calls: [(String, [String], SigningIdentity)] = [
            ("kv", ["put", "a", "1"], a["dr-carter"]),
            ("phi", ["get", "rec-1", "latest"], a["pat-ana"]),
            ("access", ["request", "rec-1", "latest"], a["nurse-ng"]),
            ("_lifecycle", ["approve", "kv", "1.0", "2"], a["admin"]),
        ]
        for (index, (chaincode, arguments, signer)) in calls.enumerated() {
            let signed = try ProposalFactory.make(
                channel: FuzzPKI.channel, chaincode: chaincode, arguments: arguments, transient: index == 1 ? ["k": [1, 2]] : [:],
                signer: signer, timestamp: FuzzPKI.now, nonce: Array(repeating: UInt8(index), count: 24))
            seeds.append(("signed-\(chaincode)", try signed.serializedData()))
        }
        return seeds
    }
    _ = checker
    _ = fabricChecker
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProposal(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let signed = try? Protos_SignedProposal(serializedBytes: fuzzData(data, size)) else { return 0 }
    do {
        let checked = try checker.check(signed, now: FuzzPKI.now)
        fuzzTrace("accepted \(checked.chaincodeName) \(checked.transactionID)")
        _ = checked.creator.policySigner
    } catch {
        fuzzTrace("refused: \(error)")
    }
    if let fabricChecker, let proposal = try? Protos_Proposal(serializedBytes: signed.proposalBytes),
        let header = try? Common_Header(serializedBytes: proposal.header),
        let channelHeader = try? Common_ChannelHeader(serializedBytes: header.channelHeader), channelHeader.channelID == "anchor"
    {
        // At the proposal's own time (when inside the recorded certificates' validity), so the checks
        // after the creator's signature are reached with Fabric's bytes.
        let time = channelHeader.timestamp.instant
        do {
            let checked = try fabricChecker.check(signed, now: time.timeIntervalSince1970.isFinite ? time : FabricVectorPKI.recordedAt)
            fuzzTrace("accepted by Fabric's Org1MSP: \(checked.chaincodeName) \(checked.arguments.map { String(decoding: $0, as: UTF8.self) })")
        } catch {
            fuzzTrace("refused by Fabric's Org1MSP: \(error)")
        }
    }
    return 0
}
