import Crypto
import Foundation
import LedgerCore
import Testing
import TestSupport

@testable import Identity

@Suite struct SignatureTests {
    let pki: TestPKI
    let signer: SigningIdentity

    init() throws {
        pki = try TestPKI()
        signer = try pki.identity("alice", units: ["client"])
    }

    @Test func signaturesAreLowSAndVerify() throws {
        for index in 0..<64 {
            let message = Array("message \(index)".utf8)
            let signature = try signer.sign(message)
            let parsed = try P256.Signing.ECDSASignature(derRepresentation: signature)
            #expect(LowS.isLow(s: parsed.rawRepresentation.suffix(32)))
            try SignatureVerifier.verify(signature: signature, over: message, publicKey: signer.privateKey.publicKey)
        }
    }

    @Test func highSSignatureIsRejectedThoughMathematicallyValid() throws {
        let message = Array("transfer".utf8)
        let low = try P256.Signing.ECDSASignature(derRepresentation: try signer.sign(message))
        let high = LowS.negatingS(low)
        // The high-S twin verifies as plain ECDSA, which is exactly why Fabric refuses it.
        #expect(signer.privateKey.publicKey.isValidSignature(high, for: message))
        #expect(!LowS.isLow(s: high.rawRepresentation.suffix(32)))
        #expect(LowS.normalize(high).rawRepresentation == low.rawRepresentation)
        let code = expectIdentityError {
            try SignatureVerifier.verify(signature: high.derRepresentation, over: message, publicKey: signer.privateKey.publicKey)
        }
        #expect(code == .highSSignature)
    }

    @Test func halfOrderIsTheBoundary() {
        #expect(LowS.isLow(s: LowS.halfCurveOrder))
        var aboveHalf = LowS.halfCurveOrder
        aboveHalf[31] &+= 1
        #expect(!LowS.isLow(s: aboveHalf))
        #expect(LowS.halfCurveOrder.hexString == "7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8")
    }

    @Test func tamperedMessageAndGarbageAreRejected() throws {
        let signature = try signer.sign(Array("dose: 5mg".utf8))
        let tampered = expectIdentityError { try SignatureVerifier.verify(signature: signature, over: Array("dose: 50mg".utf8), publicKey: signer.privateKey.publicKey) }
        #expect(tampered == .badSignature)
        let garbage = expectIdentityError { try SignatureVerifier.verify(signature: [0x30, 0x01, 0x00], over: [1], publicKey: signer.privateKey.publicKey) }
        #expect(garbage == .malformedSignature)
        let other = try pki.identity("mallory")
        let wrongKey = expectIdentityError { try SignatureVerifier.verify(signature: signature, over: Array("dose: 5mg".utf8), publicKey: other.privateKey.publicKey) }
        #expect(wrongKey == .badSignature)
    }
}

/// Runs `body` and returns the code of the `IdentityError` it threw; records a failure when it
/// threw nothing or something else.
func expectIdentityError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> IdentityError.Code? {
    do {
        try body()
        Issue.record("expected an IdentityError, but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as IdentityError {
        return error.code
    } catch {
        Issue.record("expected an IdentityError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
