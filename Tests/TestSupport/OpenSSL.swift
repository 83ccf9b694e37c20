import Foundation

/// Runs the system's `openssl` (an independent implementation to check our encodings against).
package enum OpenSSL {
    package static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/env"), ["openssl"] + arguments)
    }
}
