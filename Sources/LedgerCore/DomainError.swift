/// Where in Medrex's source an error was raised: `Module/File.swift:line`.
package struct CodeLocation: Sendable, Hashable, CustomStringConvertible {
    package let file: String
    package let line: UInt

    package init(file: String = #fileID, line: UInt = #line) {
        self.file = file
        self.line = line
    }

    package var description: String { "\(file):\(line)" }
}

/// What every domain error offers, a plain `DomainError` or one that carries context of its own
/// (a config file's line, a block's number, a policy text's position): a code to compare and
/// branch on, a reason for people (never PHI), and where it was raised. Such errors compare by
/// code, print where they were raised, and reach gRPC status codes only in the service adapters.
package protocol LedgerError: Error, Hashable, CustomStringConvertible {
    associatedtype Code: DomainErrorCode
    var code: Code { get }
    var reason: String { get }
    var raisedAt: CodeLocation { get }
}

/// The codes of one domain module's errors (`StorageError.Code`, `IdentityError.Code`, ...).
package protocol DomainErrorCode: RawRepresentable<String>, Sendable, Hashable {}

/// The one shape of the domain modules' errors: a code that callers compare and branch on, a
/// reason for people (never PHI), and where the error was raised. Errors compare by code only;
/// they print as `code: reason (Module/File.swift:line)`. gRPC status codes are not part of it:
/// the service adapters map codes to statuses.
///
/// Each module names its own: `package typealias StorageError = DomainError<StorageErrorCode>`.
package struct DomainError<C: DomainErrorCode>: LedgerError {
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

    package var raisedAt: CodeLocation { CodeLocation(file: file, line: line) }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

    package func hash(into hasher: inout Hasher) { hasher.combine(code) }

    package var description: String { "\(code.rawValue): \(reason) (\(file):\(line))" }
}
