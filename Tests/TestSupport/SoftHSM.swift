import Foundation
import Synchronization

/// Tokens of Debian's SoftHSM (`softhsm2`), a real PKCS#11 module, for tests: one token directory
/// per test process, named in `SOFTHSM2_CONF` before the module is first loaded (SoftHSM reads it
/// once, at `C_Initialize`), and child processes (peers, the CLI) inherit it.
///
/// Each token is made with `softhsm2-util --init-token --free` before anything in the process loads
/// the module, so `prepare` is called with every label the process's tests use. Starting fails with
/// a clear error when softhsm2 is missing: tests that need a token must not pass by skipping.
package enum SoftHSM {
    /// Where Debian installs the module.
    package static let library = "/usr/lib/softhsm/libsofthsm2.so"
    package static let userPIN = "2468-user"
    package static let securityOfficerPIN = "1357-security-officer"

    /// Every token the test process uses; pass it to `prepare`, so that whichever suite loads the
    /// module first, all tokens exist by then.
    package static let testTokens = ["medrex-keys-a", "medrex-keys-b", "medrex-peers"]

    private static let state = Mutex<(directory: URL?, tokens: Set<String>)>((nil, []))

    /// Makes the process's token directory and configuration if needed, and the tokens labelled
    /// `labels` that do not exist yet (user PIN `userPIN`). Returns the configuration file.
    @discardableResult
    package static func prepare(tokens labels: [String]) throws -> URL {
        try state.withLock { state in
            let directory: URL
            if let existing = state.directory {
                directory = existing
            } else {
                guard FileManager.default.isExecutableFile(atPath: "/usr/bin/softhsm2-util"), FileManager.default.fileExists(atPath: library) else {
                    throw SoftHSMError("softhsm2 is not installed (apt-get install softhsm2)")
                }
                directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-softhsm-\(getpid())-\(UUID().uuidString.prefix(8))")
                try FileManager.default.createDirectory(at: directory.appendingPathComponent("tokens"), withIntermediateDirectories: true)
                let configuration = """
                    directories.tokendir = \(directory.appendingPathComponent("tokens").path)
                    objectstore.backend = file
                    log.level = ERROR
                    slots.removable = false

                    """
                try configuration.write(to: directory.appendingPathComponent("softhsm2.conf"), atomically: true, encoding: .utf8)
                setenv("SOFTHSM2_CONF", directory.appendingPathComponent("softhsm2.conf").path, 1)
                state.directory = directory
            }
            for label in labels where !state.tokens.contains(label) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/softhsm2-util")
                process.arguments = ["--init-token", "--free", "--label", label, "--pin", userPIN, "--so-pin", securityOfficerPIN]
                let output = Pipe()
                process.standardOutput = output
                process.standardError = output
                try process.run()
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                guard process.terminationStatus == 0 else { throw SoftHSMError("softhsm2-util could not make token \(label): \(text)") }
                state.tokens.insert(label)
            }
            return directory.appendingPathComponent("softhsm2.conf")
        }
    }
}

package struct SoftHSMError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}
