import LedgerCore

/// Why a record could not be sealed, opened, stored or read (STYLE §9: a code, a reason that helps
/// the operator, and the source location). Never carries plaintext or key material: reasons name
/// record ids, versions, key ids and algorithm ids only.
package typealias OffChainStoreError = DomainError<OffChainStoreErrorCode>

/// The codes of `OffChainStoreError`.
package enum OffChainStoreErrorCode: String, DomainErrorCode {
    /// The ciphertext, nonce, record id or version was changed: AES-GCM authentication failed.
    case tampered
    /// The plaintext (or the stored digest) is not the one anchored on the chain.
    case digestMismatch
    /// A stored row could not be decoded (embedded store): its bytes were changed.
    case corruptRow
    /// A data key is malformed (not 256 bits).
    case badKey
    /// No wrapped key is addressed to the key offered, or it does not open with that key (the
    /// wrong private key, or the wrapped key, record id or version was changed).
    case wrongKey
    /// A row names an algorithm id this build does not implement.
    case unsupportedAlgorithm
    /// A record version already exists: versions are immutable.
    case versionExists
    /// No such record version.
    case notFound
    /// A caller passed a value outside the documented limits (`OffChainStoreLimits`).
    case invalidArgument
    /// The backing store failed (connection, disk, SQL error).
    case storage
    /// A custodian key cannot be used: its PKCS#11 library, token or key is missing, the PIN is
    /// wrong or locked, or the token failed.
    case keyUnavailable
}

extension DomainError where C == OffChainStoreErrorCode {
    /// Whether the error says that stored data was changed or damaged (an integrity failure).
    package var isIntegrityFailure: Bool {
        switch code {
        case .tampered, .digestMismatch, .corruptRow: true
        default: false
        }
    }
}
