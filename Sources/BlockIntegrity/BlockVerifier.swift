import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf

/// Why a block from the ordering service was refused. A refused block is never committed: the
/// peer asks another orderer for it instead.
package struct BlockVerificationError: LedgerError {
    package enum Code: String, DomainErrorCode {
        case unexpectedNumber
        case brokenHashChain
        case dataHashMismatch
        case malformedMetadata
        case badOrdererSignature
        case policyNotSatisfied
    }

    package let code: Code
    package let blockNumber: UInt64
    package let reason: String
    package let raisedAt: CodeLocation

    package init(code: Code, blockNumber: UInt64, reason: String, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.blockNumber = blockNumber
        self.reason = reason
        raisedAt = CodeLocation(file: file, line: line)
    }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

    package func hash(into hasher: inout Hasher) { hasher.combine(code) }

    package var description: String { "block \(blockNumber): \(code.rawValue): \(reason) (\(raisedAt))" }
}

/// The checks a peer makes on a block before looking at any transaction in it: it is the next
/// block, it chains onto the previous header, its data hash matches its data, and the orderer
/// signatures in its SIGNATURES metadata verify and satisfy the channel's block-validation policy.
package struct BlockVerifier: Sendable {
    package let membership: MembershipRegistry
    package let blockValidationPolicy: EndorsementPolicy

    package init(membership: MembershipRegistry, blockValidationPolicy: EndorsementPolicy) {
        self.membership = membership
        self.blockValidationPolicy = blockValidationPolicy
    }

    /// Verifies `block` as the successor of a block with number `expectedNumber - 1` and header
    /// hash `previousHeaderHash`. Orderer certificates are validated at the block's ordering time
    /// (the clock its orderer signed into it), so that a peer catching up on old blocks accepts
    /// signatures made while the orderer's certificate was valid (Fabric does not check an
    /// orderer certificate's expiry at all); a block without one (genesis, Fabric's), or one
    /// dated after `receivedAt`, is checked at `receivedAt`. Revocation counts whatever the time.
    /// Returns the verified signers.
    package func verify(
        _ block: Common_Block, expectedNumber: UInt64, previousHeaderHash: some Sequence<UInt8>, at receivedAt: Date
    ) throws(BlockVerificationError) -> [ValidatedIdentity] {
        let number = block.header.number
        let time = block.orderingTime.map { min($0, receivedAt) } ?? receivedAt
        func fail(_ code: BlockVerificationError.Code, _ reason: String) -> BlockVerificationError {
            BlockVerificationError(code: code, blockNumber: number, reason: reason)
        }
        guard number == expectedNumber else {
            throw fail(.unexpectedNumber, "expected block \(expectedNumber)")
        }
        guard block.header.previousHash.elementsEqual(previousHeaderHash) else {
            throw fail(.brokenHashChain, "previous hash does not match the header hash of block \(expectedNumber &- 1)")
        }
        guard block.hasConsistentDataHash else {
            throw fail(.dataHashMismatch, "data hash does not match the block's transactions")
        }
        let signatureSlot = Int(Common_BlockMetadataIndex.signatures.rawValue)
        guard block.metadata.metadata.count > signatureSlot,
            let metadata = try? Common_Metadata(serializedBytes: block.metadata.metadata[signatureSlot])
        else {
            throw fail(.malformedMetadata, "SIGNATURES metadata is missing or does not decode")
        }
        let headerBytes = Data(block.header.asn1Bytes)
        var signers: [ValidatedIdentity] = []
        for signature in metadata.signatures {
            guard let header = try? Common_SignatureHeader(serializedBytes: signature.signatureHeader) else {
                throw fail(.malformedMetadata, "a block signature's header does not decode")
            }
            do {
                let signed = metadata.value + signature.signatureHeader + headerBytes
                signers.append(try membership.verify(signature: signature.signature, over: signed, by: header.creator, at: time))
            } catch {
                throw fail(.badOrdererSignature, "orderer signature refused: \(error.reason)")
            }
        }
        guard blockValidationPolicy.isSatisfied(by: signers.map(\.policySigner)) else {
            throw fail(.policyNotSatisfied, "block signatures do not satisfy the block-validation policy \(blockValidationPolicy)")
        }
        return signers
    }
}
