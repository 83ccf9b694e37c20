// Fuzz target `policy`: bytes as UTF-8 → EndorsementPolicy.parse, evaluation against a few signers,
// the canonical text and Fabric's SignaturePolicyEnvelope encoding (Identity); the same bytes as
// a serialized SignaturePolicyEnvelope → SignaturePolicyCodec.decode → evaluation.
import Foundation
import Identity
import LedgerWire
import SwiftProtobuf

private let signerSets: [[PolicySigner]] = {
    let a = "HospitalAMSP", b = "HospitalBMSP"
    let peerA0 = PolicySigner(identityID: "A:peer0", mspID: a, role: .peer)
    let peerA1 = PolicySigner(identityID: "A:peer1", mspID: a, role: .peer)
    let adminA = PolicySigner(identityID: "A:admin", mspID: a, role: .admin)
    let doctor = PolicySigner(identityID: "A:dr", mspID: a, role: .client, attributes: ["role": "consulting_doctor", "specialty": "cardiology"])
    let supervisor = PolicySigner(identityID: "A:shah", mspID: a, role: .client, attributes: ["is_supervisor": "true"])
    let peerB = PolicySigner(identityID: "B:peer0", mspID: b, role: .peer)
    let orderer = PolicySigner(identityID: "O:orderer0", mspID: "OrdererMSP", role: .orderer)
    let many = (0..<12).map { PolicySigner(identityID: "A:p\($0)", mspID: a, role: $0 % 2 == 0 ? .peer : .client) }
    return [[], [peerA0], [peerA0, peerA0], [peerA0, peerA1, peerB], [doctor, supervisor, adminA], [peerA0, peerB, orderer, doctor, supervisor, adminA, peerA1], many]
}()

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    writeSeedsIfAsked {
        let texts = [
            "'HospitalAMSP.peer'",
            "AND('HospitalAMSP.peer', 'HospitalBMSP.peer')",
            "OR('HospitalAMSP.member', 'HospitalBMSP.admin')",
            "OutOf(2, 'HospitalAMSP.peer', 'HospitalBMSP.peer', 'HospitalAMSP.client[is_supervisor=true]')",
            "AND('HospitalAMSP.client[role=consulting_doctor,specialty=cardiology]', OR('HospitalAMSP.peer', 'OrdererMSP.orderer'))",
            "OutOf(1, AND('A.peer', 'A.peer'), OutOf(2, 'B.client', 'B.admin', 'B.member'))",
            "AND('HospitalAMSP.peer', 'HospitalAMSP.peer')",
        ]
        var seeds = texts.enumerated().map { (name: "text-\($0.offset)", bytes: Data($0.element.utf8)) }
        for (index, text) in texts.enumerated().prefix(3) {
            seeds.append(("envelope-\(index)", try SignaturePolicyCodec.encode(try EndorsementPolicy.parse(text)).serializedData()))
        }
        return seeds
    }
    return 0
}

private func evaluate(_ policy: EndorsementPolicy) {
    _ = policy.mspIDs
    for signers in signerSets {
        if let assignment = policy.satisfyingAssignment(from: signers) {
            fuzzOracle(policy.isSatisfied(by: assignment), "the satisfying assignment of \(policy) does not satisfy it")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPolicy(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzData(data, size)
    let text = String(decoding: bytes, as: UTF8.self)
    if let policy = try? EndorsementPolicy.parse(text) {
        evaluate(policy)
        let canonical = policy.description
        let reparsed = try? EndorsementPolicy.parse(canonical)
        fuzzOracle(reparsed == policy, "parse(description) differs for \(canonical)")
        if let envelope = try? SignaturePolicyCodec.encode(policy) {
            let decoded = try? SignaturePolicyCodec.decode(envelope)
            fuzzOracle(decoded == policy, "SignaturePolicyCodec round trip differs for \(canonical)")
        }
    }
    if let envelope = try? Common_SignaturePolicyEnvelope(serializedBytes: bytes), let policy = try? SignaturePolicyCodec.decode(envelope) {
        evaluate(policy)
        _ = try? EndorsementPolicy.parse(policy.description)
    }
    return 0
}
