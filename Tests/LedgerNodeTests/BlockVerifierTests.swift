import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import Testing
import TestSupport
import X509

@testable import LedgerNode

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

    private func code(_ body: () throws -> [ValidatedIdentity]) -> BlockVerificationError.Code? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? BlockVerificationError)?.code
        }
    }
}
