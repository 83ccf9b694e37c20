import LedgerCore

/// An error from identity handling: a code to branch on, a reason that tells the operator what to
/// fix, and where it was raised. Reasons name certificates by subject and serial, never by content
/// that could carry PHI.
package typealias IdentityError = DomainError<IdentityErrorCode>

/// The codes of `IdentityError`.
package enum IdentityErrorCode: String, DomainErrorCode {
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
