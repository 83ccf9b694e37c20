import Crypto
import Endorser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import HealthChaincodes
import Identity
import LedgerCore
import LedgerWire
import OffChainStore
import RPCTransport
import SwiftProtobuf
import X509

/// A person's client of the PHI records of one channel, through one peer of the custodian
/// hospital: stores records (the peer encrypts, the person anchors), asks for access (an
/// `access request` transaction of their own, audited on the chain) and reads records released
/// to them, decrypting with their own certificate key.
package struct PhiClient: Sendable {
    package let gateway: GatewayClient
    package let records: Medrex_PhiRecords.Client<HTTP2ClientTransport.Posix>
    package let channel: String

    package var signer: SigningIdentity { gateway.signer }

    /// Keeps one connection to the peer open while `body` runs.
    package static func withConnection<Result: Sendable>(
        peer: NodeAddress, tls: MutualTLS, signer: SigningIdentity, channel: String, _ body: (PhiClient) async throws -> Result
    ) async throws -> Result {
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: peer.host, port: peer.port), transportSecurity: tls.clientSecurity)
        ) { client in
            try await body(
                PhiClient(
                    gateway: GatewayClient(gateway: Gateway_Gateway.Client(wrapping: client), signer: signer),
                    records: Medrex_PhiRecords.Client(wrapping: client), channel: channel))
        }
    }

    /// What `put` stored and anchored.
    package struct Stored: Sendable {
        package let recordID: String
        package let version: UInt32
        package let sha256: String
        package let transactionID: String
        package let blockNumber: UInt64
    }

    /// Stores `json` (a FHIR resource) as the next version of its record, kept by `custodian`, and
    /// waits until its anchor commits. Throws `PhiClientError` on refusals, and one that starts
    /// "outcome unknown" when the answer was lost after submission (the record may be stored).
    package func put(json: Data, patient: String, custodian: String, labOrg: String? = nil) async throws -> Stored {
        let resource = try FHIRResource(json: json)
        let version = try await nextVersion(of: resource.id)
        let response = try await storePending(resource, version: version, patient: patient, custodian: custodian, labOrg: labOrg)
        var envelope = response.preparedTransaction
        envelope.signature = Data(try signer.sign(envelope.payload))
        let unknown = PhiClientError(
            "outcome unknown: the answer was lost after the anchor of record '\(resource.id)' version \(version) was submitted (txid \(response.transactionID)); it may have been stored: check with `medrex phi get --record \(resource.id) --version \(version)`")
        do {
            try await gateway.submit(channel: channel, envelope: envelope)
        } catch let error as RPCError where Self.outcomeUnknownCodes.contains(error.code) {
            throw unknown
        }
        let status: Gateway_CommitStatusResponse
        do {
            status = try await gateway.commitStatus(channel: channel, transactionID: response.transactionID)
        } catch {
            throw unknown
        }
        guard status.result == .valid else {
            throw PhiClientError("the anchor of record '\(resource.id)' version \(version) committed as \(status.result.name)")
        }
        return Stored(recordID: resource.id, version: version, sha256: resource.digestHex, transactionID: response.transactionID, blockNumber: status.blockNumber)
    }

    /// Submit failures after which the transaction may still have been ordered: the connection or
    /// the ordering service went away before answering.
    package static let outcomeUnknownCodes: Set<RPCError.Code> = [.unavailable, .deadlineExceeded, .cancelled, .unknown, .internalError]

    /// The first half of `put`: the peer stores the version (pending) and endorses its anchor; the
    /// anchor transaction comes back unsigned and unsubmitted. Until it commits VALID the version
    /// cannot be read, and the peer removes it after its pending timeout.
    package func storePending(
        _ resource: FHIRResource, version: UInt32, patient: String, custodian: String, labOrg: String? = nil
    ) async throws -> Medrex_PhiPutResponse {
        let anchor = PhiAnchorRequest(
            recordID: resource.id, version: version, sha256: resource.digestHex, patient: patient, custodian: custodian,
            resourceType: resource.resourceType, labOrg: labOrg, cipher: RecordAlgorithm.aes256GCM.rawValue,
            keyWrap: KeyWrapAlgorithm.hpkeP256SHA256AES256GCM.rawValue)
        let anchorText = String(decoding: try JSONEncoder().encode(anchor), as: UTF8.self)
        let proposal = try ProposalFactory.make(
            channel: channel, chaincode: PhiContract.name, arguments: ["anchor", anchorText], signer: signer, timestamp: Date())
        var put = Medrex_PhiPut()
        put.record = resource.canonical
        put.anchorProposal = proposal
        return try await records.put(try signed(.put(put)))
    }

    /// The version after the record's latest anchor (1 for a new record).
    private func nextVersion(of recordID: String) async throws -> UInt32 {
        do {
            let response = try await gateway.evaluate(channel: channel, chaincode: PhiContract.name, arguments: ["get", recordID, "latest"])
            let (next, overflow) = try JSONDecoder().decode(PhiAnchor.self, from: response.payload).version.addingReportingOverflow(1)
            guard !overflow else { throw PhiClientError("record '\(recordID)' is at the last possible version") }
            return next
        } catch let error as RPCError where error.message.contains("(404)") {
            return 1
        }
    }

    /// An `access request` of the record, submitted and committed: the chain's decision (audited
    /// either way) and the transaction that carries it.
    package func requestAccess(recordID: String, version: UInt32?) async throws -> (decision: AccessDecision, transactionID: String) {
        let proposal = try ProposalFactory.make(
            channel: channel, chaincode: AccessContract.name, arguments: ["request", recordID, version.map(String.init) ?? "latest"],
            signer: signer, timestamp: Date())
        let envelope = try await gateway.endorse(channel: channel, proposal: proposal)
        let payload = try Common_Payload(serializedBytes: envelope.payload)
        let decision = try JSONDecoder().decode(AccessDecision.self, from: try EndorserTransaction(payloadData: payload.data).chaincodeAction.response.payload)
        let txID = try GatewayClient.transactionID(of: proposal)
        try await gateway.submit(channel: channel, envelope: envelope)
        let status = try await gateway.commitStatus(channel: channel, transactionID: txID)
        guard status.result == .valid else {
            throw PhiClientError("the access request \(txID) committed as \(status.result.name); nothing was decided")
        }
        return (decision, txID)
    }

    /// Asks for access and, once granted, reads the record: decrypted here with the caller's own
    /// key and checked against the anchor. A denial throws (and is in the audit trail).
    package func get(recordID: String, version: UInt32?) async throws -> (record: Data, anchor: PhiAnchor, transactionID: String) {
        let (decision, txID) = try await requestAccess(recordID: recordID, version: version)
        guard decision.granted, let anchor = decision.anchor else {
            throw PhiClientError("access to record '\(recordID)' denied (\(decision.reason)); the request is in the audit trail (txid \(txID))")
        }
        var get = Medrex_PhiGet()
        get.accessTransactionID = txID
        let released = try await records.get(try signed(.get(get)))
        guard released.recordID == anchor.recordID, released.version == anchor.version, released.sha256 == anchor.sha256,
            let digest = [UInt8](hexString: anchor.sha256).map({ Data($0) })
        else {
            throw PhiClientError("integrity error: the peer released another record version than the chain granted")
        }
        guard let cipher = RecordAlgorithm(rawValue: released.cipher), let keyWrap = KeyWrapAlgorithm(rawValue: released.keyWrap) else {
            throw PhiClientError("the peer used algorithms this client does not implement (\(released.cipher), \(released.keyWrap))")
        }
        let requester = RecordRequester(privateKey: try P256.KeyAgreement.PrivateKey(rawRepresentation: signer.privateKey.rawRepresentation))
        let sealed = SealedRecord(
            recordID: released.recordID, version: released.version, ciphertext: released.ciphertext, nonce: released.nonce,
            plaintextDigest: digest, algorithm: cipher)
        let wrapped = WrappedKey(
            recipientKeyID: requester.key.keyID, encapsulatedKey: released.wrappedKeyEncapsulation, ciphertext: released.wrappedKeyCiphertext,
            algorithm: keyWrap)
        return (try requester.open(sealed, wrappedKey: wrapped, anchoredDigest: digest), anchor, txID)
    }

    /// Re-checks one record version, or all of a patient's records, against their anchors.
    package func verify(recordID: String?, version: UInt32?, patient: String?) async throws -> [Medrex_PhiVerification] {
        var verify = Medrex_PhiVerify()
        verify.recordID = recordID ?? ""
        verify.version = version ?? 0
        verify.patient = patient ?? ""
        return try await records.verify(try signed(.verify(verify))).results
    }

    /// The custodian key's versions and the data keys each wraps; with `rotate`, a new version
    /// first (admins and operators of the custodian).
    package func keys(rotate: Bool) async throws -> Medrex_PhiKeysResponse {
        var keys = Medrex_PhiKeys()
        keys.rotate = rotate
        return try await records.keys(try signed(.keys(keys)))
    }

    /// Erases one version of a record (all of them when `version` is nil): the peer endorses the
    /// caller's `phi erase`, the caller submits it and waits for the commit; the custodian's peers
    /// then destroy the ciphertext and data keys. Returns the committed erasure entries.
    package func erase(recordID: String, version: UInt32?, reason: String) async throws -> (entries: [ErasureEntry], transactionID: String) {
        let request = ErasureRequest(recordID: recordID, version: version, reason: reason)
        let proposal = try ProposalFactory.make(
            channel: channel, chaincode: PhiContract.name, arguments: ["erase", String(decoding: try JSONEncoder().encode(request), as: UTF8.self)],
            signer: signer, timestamp: Date())
        var erase = Medrex_PhiErase()
        erase.erasureProposal = proposal
        let response = try await records.erase(try signed(.erase(erase)))
        var envelope = response.preparedTransaction
        let payload = try Common_Payload(serializedBytes: envelope.payload)
        let entries = try JSONDecoder().decode(
            [ErasureEntry].self, from: try EndorserTransaction(payloadData: payload.data).chaincodeAction.response.payload)
        envelope.signature = Data(try signer.sign(envelope.payload))
        try await gateway.submit(channel: channel, envelope: envelope)
        let status = try await gateway.commitStatus(channel: channel, transactionID: response.transactionID)
        guard status.result == .valid else {
            throw PhiClientError("the erasure of record '\(recordID)' committed as \(status.result.name); nothing was erased")
        }
        return (entries, response.transactionID)
    }

    /// Every version of the record with its anchor and state (`anchored`, `erased`).
    package func history(recordID: String) async throws -> [RecordVersionHistory] {
        let response = try await gateway.evaluate(channel: channel, chaincode: PhiContract.name, arguments: ["history", recordID])
        return try JSONDecoder().decode([RecordVersionHistory].self, from: response.payload)
    }

    /// The person id the healthcare chaincodes know `signer` by: `MSP/common name`.
    package static func personID(of signer: SigningIdentity) -> String {
        let commonName = signer.certificate.subject.lazy.flatMap { $0 }.first { $0.type == .RDNAttributeType.commonName }
        return "\(signer.mspID)/\(commonName.map { String(describing: $0.value) } ?? "")"
    }

    private func signed(_ body: Medrex_PhiRequest.OneOf_Body) throws -> Medrex_SignedPhiRequest {
        var request = Medrex_PhiRequest()
        request.identity = Data(signer.serialized)
        request.timestamp = Google_Protobuf_Timestamp(date: Date())
        request.channelID = channel
        request.body = body
        var signed = Medrex_SignedPhiRequest()
        signed.request = try request.serializedData()
        signed.signature = Data(try signer.sign(signed.request))
        return signed
    }
}

/// A PHI operation the network refused or found inconsistent; the message holds no PHI.
package struct PhiClientError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
