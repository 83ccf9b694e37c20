/// An error from identity handling: a code to branch on, a reason that tells the operator what to
/// fix, and where it was raised. Reasons name certificates by subject and serial, never by content
/// that could carry PHI.
package struct IdentityError: Error, Hashable, CustomStringConvertible {
    package enum Code: String, Sendable, Hashable {
        case malformedIdentity
        case malformedCertificate
        case malformedSignature
        case malformedRevocationList
        case unknownMSP
        case untrustedIssuer
        case notYetValid
        case expired
        case revoked
        case missingNodeOU
        case ambiguousNodeOU
        case roleMismatch
        case badSignature
        case highSSignature
        case malformedAttributes
        case issuanceFailed
        case invalidConfiguration
    }

    package let code: Code
    package let reason: String
    package let file: String
    package let line: UInt

    package init(_ code: Code, _ reason: String, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    package var description: String { "\(code.rawValue): \(reason)" }
}
