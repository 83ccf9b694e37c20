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
    package static let testTokens = ["medrex-keys-a", "medrex-keys-b", "medrex-keys-down", "medrex-peers"]

    /// The directory SoftHSM keeps the token labelled `label` in (named by the token's serial, so
    /// found by the label inside its `token.object`): tests move it away to take the token down.
    package static func tokenDirectory(_ label: String) throws -> URL {
        guard let root = state.withLock({ $0.directory })?.appendingPathComponent("tokens") else {
            throw SoftHSMError("no SoftHSM tokens were prepared")
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: root.path) {
            let directory = root.appendingPathComponent(name)
            if let object = try? Data(contentsOf: directory.appendingPathComponent("token.object")), object.range(of: Data(label.utf8)) != nil {
                return directory
            }
        }
        throw SoftHSMError("no token labelled \(label) under \(root.path)")
    }

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

/// A SoftHSM token served over a Unix socket by `p11-kit server` (Debian's p11-kit), reached
/// through p11-kit's client module: a token on the other end of a connection, as a network HSM is,
/// that a test can take away (`stop`) while its client runs.
package final class RemoteToken: @unchecked Sendable {
    /// p11-kit's client module: a PKCS#11 library that forwards every call to the server.
    package static let clientLibrary = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"
    package let socket: URL
    private let process = Process()

    /// Serves the SoftHSM token labelled `label`; the client module of this process connects to
    /// it (P11_KIT_SERVER_ADDRESS, read when the module initializes: one remote token per process).
    package init(serving label: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/p11-kit"), FileManager.default.fileExists(atPath: Self.clientLibrary) else {
            throw SoftHSMError("p11-kit is not installed (apt-get install p11-kit p11-kit-modules)")
        }
        try SoftHSM.prepare(tokens: SoftHSM.testTokens)
        socket = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-p11-\(UUID().uuidString.prefix(8)).sock")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/p11-kit")
        process.arguments = ["server", "--foreground", "--name", socket.path, "--provider", SoftHSM.library, "pkcs11:token=\(label)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: socket.path) {
            guard Date() < deadline, process.isRunning else { throw SoftHSMError("p11-kit server did not start") }
            usleep(20_000)
        }
        setenv("P11_KIT_SERVER_ADDRESS", "unix:path=\(socket.path)", 1)
    }

    /// Ends the server and the processes it forked for connections (each holds one open): the
    /// token becomes unreachable.
    package func stop() {
        // The server forks `p11-kit-remote` per connection (its command line does not name the
        // socket); only this test serves tokens with p11-kit, so every such process is ours.
        for pattern in [socket.path, "p11-kit-remote"] {
            let killer = Process()
            killer.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
            killer.arguments = ["-KILL", "-f", pattern]
            try? killer.run()
            killer.waitUntilExit()
        }
        if process.isRunning { process.terminate() }
        while process.isRunning { usleep(10_000) }
        try? FileManager.default.removeItem(at: socket)
    }

    deinit { stop() }
}

package struct SoftHSMError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}
