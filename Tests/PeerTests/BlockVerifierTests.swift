import BlockIntegrity
import Foundation
import Identity
import Orderer
import LedgerCore
import LedgerWire
import SwiftProtobuf
import Testing
import TestSupport
import X509
@testable import Committer
@testable import GatewayService
@testable import NodeClients
@testable import PeerDaemon
@testable import PhiService


@Suite struct BlockVerifierTests {
    static let recordedAt = Date(timeIntervalSince1970: 1_800_000_000)
    let verifier: BlockVerifier
    let blocks: [Common_Block]

    init() throws {
        let ordererRoot = try Certificate(pemEncoded: FabricVectors.text("msp/orderer-org-ca.pem"))
        let ordererMSP = try MembershipServiceProvider(MSPConfiguration(mspID: "OrdererMSP", rootCertificates: [ordererRoot]))
        verifier = BlockVerifier(
            membership: MembershipRegistry([ordererMSP]), blockValidationPolicy: try EndorsementPolicy.parse("'OrdererMSP.orderer'"))
        blocks = try FabricVectors.manifest().filter { $0.number <= 4 }.map { try FabricVectors.block($0).block }
    }

    @Test func acceptsFabricsSignedChain() throws {
        for (previous, block) in zip(blocks, blocks.dropFirst()) {
            let signers = try verifier.verify(block, expectedNumber: previous.header.number + 1, previousHeaderHash: previous.header.hash, at: Self.recordedAt)
            #expect(signers.map(\.mspID) == ["OrdererMSP"])
        }
    }

    @Test func refusesBrokenChainsAndTamperedBlocks() throws {
        let (previous, block) = (blocks[1], blocks[2])
        #expect(code { try verifier.verify(block, expectedNumber: 3, previousHeaderHash: previous.header.hash, at: Self.recordedAt) } == .unexpectedNumber)
        #expect(code { try verifier.verify(block, expectedNumber: 2, previousHeaderHash: blocks[0].header.hash, at: Self.recordedAt) } == .brokenHashChain)
        var tamperedData = block
        tamperedData.data.data[0][40] ^= 0x01
        #expect(code { try verifier.verify(tamperedData, expectedNumber: 2, previousHeaderHash: previous.header.hash, at: Self.recordedAt) } == .dataHashMismatch)
        // A consistent block (data hash recomputed) that the orderer never signed.
        var forged = tamperedData
        forged.header.dataHash = Data(forged.data.hash)
        #expect(code { try verifier.verify(forged, expectedNumber: 2, previousHeaderHash: previous.header.hash, at: Self.recordedAt) } == .badOrdererSignature)
        var unsigned = block
        unsigned.metadata.metadata[0] = try Common_Metadata().serializedData()
        #expect(code { try verifier.verify(unsigned, expectedNumber: 2, previousHeaderHash: previous.header.hash, at: Self.recordedAt) } == .policyNotSatisfied)
        var garbled = block
        garbled.metadata.metadata[0] = Data([0xff, 0xff])
        #expect(code { try verifier.verify(garbled, expectedNumber: 2, previousHeaderHash: previous.header.hash, at: Self.recordedAt) } == .malformedMetadata)
    }

    @Test func refusesSignaturesByNonOrderers() throws {
        let strict = BlockVerifier(membership: verifier.membership, blockValidationPolicy: try EndorsementPolicy.parse("'OrdererMSP.admin'"))
        #expect(code { try strict.verify(blocks[1], expectedNumber: 1, previousHeaderHash: blocks[0].header.hash, at: Self.recordedAt) } == .policyNotSatisfied)
    }

    /// A peer catching up after an orderer's certificate expired still accepts the blocks that
    /// orderer signed while its certificate was valid; a block dated after the expiry, or one
    /// without a date received after it, is refused.
    @Test func ordererCertificatesAreCheckedAtTheBlocksOrderingTime() throws {
        let pki = try TestPKI(mspID: "OrdererMSP", domain: "orderer.test")
        let orderer = try pki.identity("orderer0", units: ["orderer"], days: 30)
        let verifier = BlockVerifier(
            membership: MembershipRegistry([try pki.msp()]), blockValidationPolicy: try EndorsementPolicy.parse("'OrdererMSP.orderer'"))
        let genesis = Common_Block(number: 0, previousHash: [], envelopes: [])
        let day: TimeInterval = 86_400
        func block(orderedAt time: Date?) throws -> Common_Block {
            var block = Common_Block(number: 1, previousHash: genesis.header.hash, envelopes: [Data([1, 2, 3])])
            try block.signAsOrderer(orderer, lastConfigIndex: 0, time: time ?? TestPKI.epoch, nonce: [4, 5, 6])
            if time == nil {
                // The same signature over metadata without a time (as a Fabric orderer's carries none).
                var signatures = try Common_Metadata(serializedBytes: block.metadata.metadata[Int(Common_BlockMetadataIndex.signatures.rawValue)])
                var ordererMetadata = try Common_OrdererBlockMetadata(serializedBytes: signatures.value)
                ordererMetadata.consenterMetadata = Data()
                signatures.value = try ordererMetadata.serializedData()
                signatures.signatures = try signatures.signatures.map { signature in
                    var signature = signature
                    signature.signature = Data(try orderer.sign(signatures.value + signature.signatureHeader + Data(block.header.asn1Bytes)))
                    return signature
                }
                block.metadata.metadata[Int(Common_BlockMetadataIndex.signatures.rawValue)] = try signatures.serializedData()
            }
            return block
        }
        let afterExpiry = TestPKI.epoch.addingTimeInterval(60 * day)
        func verify(_ block: Common_Block, at time: Date) -> BlockVerificationError.Code? {
            code { try verifier.verify(block, expectedNumber: 1, previousHeaderHash: genesis.header.hash, at: time) }
        }
        let signedWhileValid = try block(orderedAt: TestPKI.epoch.addingTimeInterval(day))
        #expect(signedWhileValid.orderingTime != nil)
        #expect(verify(signedWhileValid, at: afterExpiry) == nil)
        #expect(verify(try block(orderedAt: TestPKI.epoch.addingTimeInterval(40 * day)), at: afterExpiry) == .badOrdererSignature)
        let undated = try block(orderedAt: nil)
        #expect(undated.orderingTime == nil)
        #expect(verify(undated, at: TestPKI.now) == nil)
        #expect(verify(undated, at: afterExpiry) == .badOrdererSignature)
        // A date after the block's arrival does not extend the certificate: the arrival counts.
        #expect(verify(try block(orderedAt: TestPKI.epoch.addingTimeInterval(10 * day)), at: afterExpiry.addingTimeInterval(-55 * day)) == nil)
        #expect(verify(try block(orderedAt: TestPKI.epoch.addingTimeInterval(day)), at: TestPKI.epoch.addingTimeInterval(-day)) == .badOrdererSignature)
    }

    private func code(_ body: () throws -> [ValidatedIdentity]) -> BlockVerificationError.Code? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? BlockVerificationError)?.code
        }
    }
}
