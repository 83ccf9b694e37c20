/// The codes of one domain module's errors (`StorageError.Code`, `IdentityError.Code`, ...).
package protocol DomainErrorCode: RawRepresentable<String>, Sendable, Hashable {}

/// The one shape of the domain modules' errors: a code that callers compare and branch on, a
/// reason for people (never PHI), and where the error was raised. Errors compare by code only;
/// they print as `code: reason (Module/File.swift:line)`. gRPC status codes are not part of it:
/// the service adapters map codes to statuses.
///
/// Each module names its own: `package typealias StorageError = DomainError<StorageErrorCode>`.
package struct DomainError<C: DomainErrorCode>: Error, Hashable, CustomStringConvertible {
    package typealias Code = C

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

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

    package func hash(into hasher: inout Hasher) { hasher.combine(code) }

    package var description: String { "\(code.rawValue): \(reason) (\(file):\(line))" }
}
