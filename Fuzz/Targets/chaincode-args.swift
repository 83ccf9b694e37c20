// Fuzz target `chaincode-args`: the built-in chaincodes (BuiltInChaincodes, HealthChaincodes and
// `_lifecycle`) run through the endorser's TransactionSimulator (Endorser) over an in-memory world
// state, as an endorser simulates a proposal; each successful call's writes are committed before the
// next call, so a sequence of calls reaches stateful paths (anchor, then request; order, then
// co-sign).
//
// Input: up to 8 calls separated by 0xFF. A call is: one byte choosing the chaincode (modulo the
// sorted list below), one byte choosing the caller (modulo the fixed identities), then the
// arguments separated by 0x00, the function name first.
import BuiltInChaincodes
import Chaincode
import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import WorldState
import X509

@testable import Endorser

private let contracts = builtInContracts
private let chaincodeNames = contracts.keys.sorted()
nonisolated(unsafe) private let routers: [String: ContractRouter] = contracts.mapValues(\.router)

/// The callers: every fixed identity as its MSP validates it, as the endorser passes it on (one
/// per fixed identity, in `FuzzNetwork.allIdentities` order; the revoked one as its certificate says).
private let callers: [ClientIdentity] = FuzzNetwork.allIdentities.map { signer in
    if let validated = (try? FuzzNetwork.applicationMembership.validate(serializedIdentity: signer.serialized, at: FuzzPKI.now))
        ?? (try? FuzzNetwork.ordererMembership.validate(serializedIdentity: signer.serialized, at: FuzzPKI.now))
    {
        return EndorsementService.clientIdentity(validated)
    }
    let certificate = signer.certificate
    let units = certificate.subject.lazy.flatMap { $0 }.filter { $0.type == .RDNAttributeType.organizationalUnitName }.compactMap { String($0.value) }
    return ClientIdentity(
        id: "x509::\(certificate.subject)::\(certificate.issuer)", mspID: signer.mspID, role: units.first ?? "client",
        attributes: (try? HealthcareAttributes.read(from: certificate)) ?? [:])
}

private func callerIndex(_ mspID: String, _ name: String) -> UInt8 {
    let signer = (FuzzNetwork.organizations.first { $0.mspID == mspID })![name]
    return UInt8(FuzzNetwork.allIdentities.firstIndex { $0.serialized == signer.serialized }!)
}

private func encodeCalls(_ calls: [(String, UInt8, [String])]) -> Data {
    var bytes: [UInt8] = []
    for (index, (chaincode, caller, arguments)) in calls.enumerated() {
        if index > 0 { bytes.append(0xFF) }
        bytes.append(UInt8(chaincodeNames.firstIndex(of: chaincode)!))
        bytes.append(caller)
        bytes += Array(arguments.joined(separator: "\u{0}").utf8)
    }
    return Data(bytes)
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    writeSeedsIfAsked {
        let operatorA = callerIndex("HospitalAMSP", "op-a"), ana = callerIndex("HospitalAMSP", "pat-ana")
        let carter = callerIndex("HospitalAMSP", "dr-carter"), shah = callerIndex("HospitalAMSP", "dr-shah")
        let sam = callerIndex("HospitalAMSP", "student-sam"), nurse = callerIndex("HospitalAMSP", "nurse-ng")
        let auditor = callerIndex("HospitalAMSP", "auditor-ada")
        let adminA = callerIndex("HospitalAMSP", "admin"), adminB = callerIndex("HospitalBMSP", "admin"), lee = callerIndex("HospitalBMSP", "lab-lee")
        let digest = String(repeating: "0", count: 63) + "1"
        let patient = "HospitalAMSP/pat-ana"
        let anchor = #"{"recordID":"rec-1","version":1,"sha256":"\#(digest)","patient":"\#(patient)","custodian":"HospitalAMSP","resourceType":"Observation","cipher":"AES-256-GCM","keyWrap":"ECDH-ES"}"#
        let anchor2 = anchor.replacingOccurrences(of: #""version":1"#, with: #""version":2"#)
        let audit = #"{"patient":"\#(patient)","action":"put","decision":"granted","reason":"stored"}"#
        let sequences: [(String, [(String, UInt8, [String])])] = [
            ("phi-access", [
                ("phi", operatorA, ["anchor", anchor]), ("phi", operatorA, ["anchor", anchor2]), ("access", ana, ["request", "rec-1", "latest"]),
                ("access", ana, ["grant", patient, "doctor", "HospitalAMSP/dr-carter"]), ("access", carter, ["request", "rec-1", "1"]),
                ("phi", ana, ["list", patient]), ("audit", ana, ["byPatient", patient]),
            ]),
            ("access-emergency", [
                ("access", carter, ["emergency", patient, "cardiac-arrest"]), ("access", operatorA, ["assignWard", patient, "cardio-3"]),
                ("access", ana, ["grant", patient, "hospital", "HospitalBMSP"]), ("access", carter, ["careRelationship", patient]),
                ("access", ana, ["revoke", patient, "hospital", "HospitalBMSP"]),
            ]),
            ("clinical", [
                ("clinical", sam, ["createOrder", "ord-1", patient, "cardiology", digest]), ("clinical", shah, ["cosignOrder", "ord-1"]),
                ("clinical", carter, ["createOrder", "ord-2", patient, "cardiology", digest]), ("clinical", nurse, ["getOrder", "ord-1"]),
                ("clinical", ana, ["ordersByPatient", patient]),
            ]),
            ("vitals", [
                ("access", operatorA, ["assignWard", patient, "cardio-3"]),
                ("vitals", nurse, ["record", patient, "ecg-7", "2026-09-22T09:00:00+01:00", digest, "rec-1"]),
                ("vitals", ana, ["byPatient", patient]), ("vitals", nurse, ["byPatient", patient, "ecg-7", "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z"]),
            ]),
            ("audit", [
                ("audit", carter, ["append", audit]), ("audit", auditor, ["byActor", "HospitalAMSP/dr-carter"]),
                ("audit", auditor, ["byTime", "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z"]), ("phi", lee, ["hasCustodian", "HospitalAMSP", patient]),
            ]),
            ("kv-accounts-counters", [
                ("kv", carter, ["put", "k1", "v1"]), ("kv", carter, ["get", "k1"]), ("accounts", carter, ["open", "0", "4", "100"]),
                ("accounts", carter, ["transfer", "acct-0", "acct-1", "30"]), ("accounts", carter, ["balance", "acct-1"]),
                ("counters", carter, ["add", "beds", "5"]), ("counters", carter, ["move", "beds", "icu", "2"]), ("counters", carter, ["value", "beds"]),
                ("counters", carter, ["compact", "beds"]),
            ]),
            ("lifecycle", [
                ("_lifecycle", adminA, ["approve", "newcc", "1.0", "1", "'HospitalAMSP.peer'"]), ("_lifecycle", adminB, ["approve", "newcc", "1.0", "1", "'HospitalAMSP.peer'"]),
                ("_lifecycle", carter, ["approvals", "newcc", "1.0", "1", "'HospitalAMSP.peer'"]), ("_lifecycle", carter, ["commit", "newcc", "1.0", "1", "'HospitalAMSP.peer'"]),
                ("_lifecycle", carter, ["definition", "newcc"]),
            ]),
        ]
        return sequences.map { (name: $0.0, bytes: encodeCalls($0.1)) }
    }
    _ = callers
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChaincodeArguments(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, !callers.isEmpty else { return 0 }
    var reader = FuzzReader(UnsafeBufferPointer(start: data, count: size))
    let state = InMemoryStateDatabase()
    var seed = StateUpdateBatch()
    for (index, name) in chaincodeNames.enumerated() where name != ChaincodeDefinition.namespace {
        seed.put(
            namespace: ChaincodeDefinition.namespace, key: ChaincodeDefinition.definitionKey(name),
            value: ChaincodeDefinition(name: name, version: "1.0", sequence: 1, endorsementPolicy: "").canonicalJSON,
            version: StateVersion(blockNumber: 0, transactionNumber: UInt32(index)))
    }
    guard (try? state.apply(seed, blockNumber: 0)) != nil else { return 0 }
    var history: [StateUpdateBatch.Key: [KeyModification]] = [:]
    var height: UInt64 = 0

    for block in UInt64(1)...8 {
        guard !reader.isAtEnd else { break }
        var call = FuzzReader(reader.until(0xFF))
        let chaincode = chaincodeNames[Int(call.byte()) % chaincodeNames.count]
        let caller = callers[Int(call.byte()) % callers.count]
        var arguments: [[UInt8]] = []
        while !call.isAtEnd, arguments.count < 16 { arguments.append(call.until(0)) }
        guard let router = routers[chaincode], let snapshot = try? state.makeReader() else { return 0 }
        let transactionID = String(format: "%064x", block)
        let knownHistory = history
        let simulator = TransactionSimulator(.init(
            transactionID: transactionID, channelID: FuzzPKI.channel,
            timestamp: FuzzPKI.now.addingTimeInterval(Double(block) * 60), clientIdentity: caller, transient: ["k": [1, 2, 3]],
            reader: snapshot,
            history: { namespace, key in Array((knownHistory[StateUpdateBatch.Key(namespace: namespace, key: key)] ?? []).reversed()) },
            contracts: { routers[$0] },
            deadline: .now + .seconds(5)))
        let response = simulator.run(router, namespace: chaincode, arguments: arguments)
        fuzzTrace("\(chaincode) \(arguments.map { String(decoding: $0, as: UTF8.self) }.first ?? "") → \(response.status) \(response.message)")
        guard response.isSuccess, !(simulator.usedPaginatedQuery && simulator.hasWrites), let readWriteSet = try? simulator.readWriteSet() else { continue }
        // Commit the writes as the next block, transaction 0, as a committer would for a valid transaction.
        height += 1
        let version = StateVersion(blockNumber: height, transactionNumber: 0)
        var batch = StateUpdateBatch()
        for namespaceSet in readWriteSet.nsRwset {
            guard let set = try? Kvrwset_KVRWSet(serializedBytes: namespaceSet.rwset) else { continue }
            for write in set.writes {
                let key = StateUpdateBatch.Key(namespace: namespaceSet.namespace, key: write.key)
                history[key, default: []].append(KeyModification(
                    transactionID: transactionID, blockNumber: height, transactionNumber: 0, value: write.isDelete ? nil : Array(write.value)))
                if write.isDelete {
                    batch.delete(namespace: namespaceSet.namespace, key: write.key, version: version)
                } else {
                    batch.put(namespace: namespaceSet.namespace, key: write.key, value: Array(write.value), version: version)
                }
            }
            for write in set.metadataWrites {
                let entries = Dictionary(write.entries.map { ($0.name, Array($0.value)) }, uniquingKeysWith: { _, last in last })
                batch.putMetadata(namespace: namespaceSet.namespace, key: write.key, metadata: entries, version: version)
            }
        }
        guard (try? state.apply(batch, blockNumber: height)) != nil else { return 0 }
    }
    return 0
}
