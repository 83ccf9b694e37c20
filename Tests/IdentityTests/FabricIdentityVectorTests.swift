import Crypto
import Foundation
import LedgerCore
import LedgerWire
import Testing
import TestSupport
import X509

@testable import Identity

/// Fabric 3.1.5's own certificates and signatures, checked with our MSP and verifier.
@Suite struct FabricIdentityVectorTests {
    /// Inside the validity of the recorded network's certificates (issued 2026-11-25, 10 years).
    static let recordedAt = Date(timeIntervalSince1970: 1_800_000_000)

    func org1() throws -> MembershipServiceProvider {
        let root = try Certificate(pemEncoded: FabricVectors.text("msp/org1-ca.pem"))
        return try MembershipServiceProvider(MSPConfiguration(mspID: "Org1MSP", rootCertificates: [root]))
    }

    func ordererOrg() throws -> MembershipServiceProvider {
        let root = try Certificate(pemEncoded: FabricVectors.text("msp/orderer-org-ca.pem"))
        return try MembershipServiceProvider(MSPConfiguration(mspID: "OrdererMSP", rootCertificates: [root]))
    }

    @Test func classifiesCryptogenIdentitiesByNodeOU() throws {
        let msp = try org1()
        let expectations: [(String, IdentityRole)] = [
            ("msp/org1-peer0-signcert.pem", .peer), ("msp/org1-admin-signcert.pem", .admin), ("msp/org1-user1-signcert.pem", .client),
        ]
        for (file, role) in expectations {
            let certificate = try Certificate(pemEncoded: FabricVectors.text(file))
            #expect(try msp.validate(certificate: certificate, at: Self.recordedAt) == role, "\(file)")
        }
        let orderer = try Certificate(pemEncoded: FabricVectors.text("msp/orderer-signcert.pem"))
        #expect(try ordererOrg().validate(certificate: orderer, at: Self.recordedAt) == .orderer)
        #expect(expectIdentityError { _ = try msp.validate(certificate: orderer, at: Self.recordedAt) } == .untrustedIssuer)
    }

    @Test func verifiesTheSignedProposal() throws {
        let signed = try Protos_SignedProposal(serializedBytes: FabricVectors.data("signed-proposal.pb"))
        let proposal = try Protos_Proposal(serializedBytes: signed.proposalBytes)
        let header = try Common_Header(serializedBytes: proposal.header)
        let signatureHeader = try Common_SignatureHeader(serializedBytes: header.signatureHeader)
        let channelHeader = try Common_ChannelHeader(serializedBytes: header.channelHeader)
        let expected = try JSONSerialization.jsonObject(with: FabricVectors.data("signed-proposal.json")) as! [String: Any]

        #expect(SHA256.hash(data: signed.proposalBytes).hexString == expected["proposal_bytes_sha256"] as? String)
        #expect(channelHeader.txID == expected["txid"] as? String)
        #expect(TransactionID.make(nonce: signatureHeader.nonce, creator: signatureHeader.creator) == channelHeader.txID)
        let registry = MembershipRegistry([try org1()])
        let creator = try registry.verify(signature: signed.signature, over: signed.proposalBytes, by: signatureHeader.creator, at: Self.recordedAt)
        #expect(creator.mspID == "Org1MSP")
        #expect(creator.role == .client)
        var tampered = signed.proposalBytes
        tampered[tampered.count - 1] ^= 0x01
        #expect(expectIdentityError { _ = try registry.verify(signature: signed.signature, over: tampered, by: signatureHeader.creator, at: Self.recordedAt) } == .badSignature)
    }

    /// Every creator signature, endorsement and orderer block signature in the recorded blocks.
    @Test func verifiesEverySignatureInTheRecordedBlocks() throws {
        let registry = MembershipRegistry([try org1(), try ordererOrg()])
        var creatorSignatures = 0
        var endorsementSignatures = 0
        var ordererSignatures = 0
        for record in try FabricVectors.manifest() where record.number > 0 {
            let (_, block) = try FabricVectors.block(record)
            for (index, entry) in block.data.data.enumerated() {
                let transaction = try TransactionEnvelope(serialized: entry)
                let creator = try registry.verify(
                    signature: transaction.envelope.signature, over: transaction.envelope.payload,
                    by: transaction.signatureHeader.creator, at: Self.recordedAt)
                #expect(creator.mspID == record.transactions[index].creatorMSPID)
                creatorSignatures += 1
                let endorsed = try EndorserTransaction(payloadData: transaction.payload.data)
                for endorsement in endorsed.endorsements {
                    let endorser = try registry.verify(
                        signature: endorsement.signature, over: endorsed.proposalResponsePayload + endorsement.endorser,
                        by: endorsement.endorser, at: Self.recordedAt)
                    #expect(endorser.role == .peer)
                    endorsementSignatures += 1
                }
            }
            let signatures = try Common_Metadata(serializedBytes: block.metadata.metadata[Int(Common_BlockMetadataIndex.signatures.rawValue)])
            #expect(signatures.signatures.count == record.ordererSignatureCount)
            for signature in signatures.signatures {
                let header = try Common_SignatureHeader(serializedBytes: signature.signatureHeader)
                let signedBytes = signatures.value + signature.signatureHeader + Data(block.header.asn1Bytes)
                let orderer = try registry.verify(signature: signature.signature, over: signedBytes, by: header.creator, at: Self.recordedAt)
                #expect(orderer.role == .orderer)
                ordererSignatures += 1
            }
        }
        #expect(creatorSignatures == 70)
        #expect(endorsementSignatures == 70)
        #expect(ordererSignatures == 5)
    }
}
