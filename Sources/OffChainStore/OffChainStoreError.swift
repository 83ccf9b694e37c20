/// Why a record could not be sealed, opened, stored or read (STYLE §9: a code, a reason that helps
/// the operator, and the source location). Never carries plaintext or key material: reasons name
/// record ids, versions, key ids and algorithm ids only.
///
/// Two errors are equal when their code and reason are; the source location is for diagnosis.
package struct OffChainStoreError: Error, Hashable, CustomStringConvertible {
    package enum Code: String, Sendable, Hashable {
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
    }

    package let code: Code
    package let reason: String
    package let file: String
    package let line: Int

    package init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    /// True for the errors that mean stored bytes are not what was written: tampered ciphertext,
    /// a digest that does not match, or an undecodable row.
    package var isIntegrityFailure: Bool {
        switch code {
        case .tampered, .digestMismatch, .corruptRow: true
        default: false
        }
    }

    package var description: String { "\(code.rawValue): \(reason) (\(file):\(line))" }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code && lhs.reason == rhs.reason }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(reason)
    }
}
