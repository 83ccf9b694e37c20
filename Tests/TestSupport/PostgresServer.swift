import Crypto
import Foundation
import Identity

/// A throwaway PostgreSQL 15 server (Debian's `postgresql`) for tests: `initdb` into a temporary
/// directory, `postgres` on a free loopback port with its socket in that directory, one database
/// created for the tests, and `stop()` to end it (SIGTERM, then SIGKILL) and remove its files.
///
/// PostgreSQL refuses to run as root. When the tests run as root, the temporary directory is given
/// to the `postgres` user and the server programs run as that user through `setpriv`, which execs
/// the program (unlike `runuser`/`su`, which stay as its parent), so the process the test holds is
/// the postmaster itself and signals reach it.
///
/// The server speaks TLS only on TCP (`hostssl` in pg_hba.conf; a plaintext TCP connection is
/// refused): its certificate, issued for `serverNames` by a CA made for this server, is checked by
/// clients against `caCertificate`. The Unix socket in `directory` stays open to the test's tools.
///
/// Blocking work (running initdb, waiting for the server) happens on a Dispatch thread, not on a
/// Swift concurrency thread: other suites of the parallel test run keep those busy for seconds.
/// Starting fails with a clear error when the binaries are missing: tests that need PostgreSQL must
/// not pass by skipping.
package final class PostgresServer: @unchecked Sendable {
    /// Where Debian's postgresql-15 installs the server programs.
    package static let binaries = URL(fileURLWithPath: "/usr/lib/postgresql/15/bin")
    /// The user PostgreSQL runs as when the tests run as root.
    package static let serverUser = "postgres"

    /// The loopback port; chosen again if another process takes it first (`startAttemptsMax`).
    package private(set) var port: Int
    /// The database created for the tests; the superuser is `postgres` (trust authentication).
    package let database: String
    package let username = "postgres"
    /// The directory holding the data directory, the socket and the log.
    package let directory: URL
    /// The data directory: every file PostgreSQL writes for the database.
    package let dataDirectory: URL
    private let logFile: URL
    /// The CA that issued the server's certificate: what clients trust.
    package let caCertificate: URL
    private let serverCertificate: URL
    private let serverPrivateKey: URL
    // `@unchecked Sendable`: `port` and `process` are set in `start` before the server is shared,
    // then only read; `stop` is serialized by `lock`.
    private var process: Process?
    private let lock = NSLock()

    /// Starts a server and creates `database`, waiting up to `timeout` for it to accept connections.
    /// The server's TLS certificate names `serverNames` (DNS names or IP addresses).
    package static func start(
        database: String = "medrex_test", serverNames: [String] = ["127.0.0.1", "localhost"], timeout: Duration = .seconds(60)
    ) async throws -> PostgresServer {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try startBlocking(database: database, serverNames: serverNames, timeout: timeout) })
            }
        }
    }

    private static func startBlocking(database: String, serverNames: [String], timeout: Duration) throws -> PostgresServer {
        for program in ["initdb", "postgres", "createdb"] where !FileManager.default.isExecutableFile(atPath: binaries.appendingPathComponent(program).path) {
            throw PostgresServerError(
                "PostgreSQL's \(program) is not installed in \(binaries.path): install Debian's postgresql "
                    + "(`apt-get install -y postgresql`; scripts/test.sh does it)")
        }
        let server = try PostgresServer(port: ChildProcess.freePort(), database: database, serverNames: serverNames)
        do {
            try server.initializeDataDirectory(timeout: timeout)
            try server.allowTLSOnly()
            try server.launchOnAFreePort(timeout: timeout)
            try server.createDatabase(timeout: timeout)
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    private init(port: Int, database: String, serverNames: [String]) throws {
        // tmpfs when there is one: faster than a disk shared with builds.
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        directory = base.appendingPathComponent("medrex-postgres-\(UUID().uuidString.prefix(8))")
        dataDirectory = directory.appendingPathComponent("data")
        logFile = directory.appendingPathComponent("postgres.log")
        self.port = port
        self.database = database
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        caCertificate = directory.appendingPathComponent("ca.pem")
        serverCertificate = directory.appendingPathComponent("server.pem")
        serverPrivateKey = directory.appendingPathComponent("server-key.pem")
        try Self.issueServerCertificate(names: serverNames, ca: caCertificate, certificate: serverCertificate, privateKey: serverPrivateKey)
        if Self.runsAsRoot {
            try Self.runToCompletion(URL(fileURLWithPath: "/bin/chown"), ["-R", "\(Self.serverUser):\(Self.serverUser)", directory.path], timeout: .seconds(30))
        }
    }

    deinit { stop() }

    /// A CA of this server's own and a certificate it issues for `names`; the key file is 0600, as
    /// PostgreSQL requires.
    private static func issueServerCertificate(names: [String], ca caFile: URL, certificate certificateFile: URL, privateKey keyFile: URL) throws {
        let now = Date()
        let ca = try CertificateAuthority.makeRoot(
            commonName: "postgres-test-ca", organization: "medrex tests", notValidBefore: now.addingTimeInterval(-60),
            notValidAfter: now.addingTimeInterval(86_400))
        let key = P256.Signing.PrivateKey()
        let certificate = try ca.issue(CertificateRequest(
            commonName: "postgres", publicKey: key.publicKey, usage: .tls, subjectAlternativeNames: names,
            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(86_400)))
        try ca.certificate.serializeAsPEM().pemString.write(to: caFile, atomically: true, encoding: .utf8)
        try certificate.serializeAsPEM().pemString.write(to: certificateFile, atomically: true, encoding: .utf8)
        guard FileManager.default.createFile(atPath: keyFile.path, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw PostgresServerError("cannot write \(keyFile.path)")
        }
    }

    /// pg_hba.conf: trust on the Unix socket (the tests' own tools), TLS-only on loopback TCP.
    /// Written in place, so the file keeps initdb's owner.
    private func allowTLSOnly() throws {
        let rules = """
            local all all trust
            hostssl all all 127.0.0.1/32 trust
            hostnossl all all 0.0.0.0/0 reject

            """
        let file = try FileHandle(forWritingTo: dataDirectory.appendingPathComponent("pg_hba.conf"))
        defer { try? file.close() }
        try file.truncate(atOffset: 0)
        try file.write(contentsOf: Data(rules.utf8))
    }

    private static var runsAsRoot: Bool { geteuid() == 0 }

    /// The end of the server's log, for failure messages.
    package var logTail: String {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(15).joined(separator: "\n")
    }

    package var isRunning: Bool { process?.isRunning ?? false }

    /// Stops the server (SIGTERM: smart shutdown; SIGINT: fast; SIGKILL after 10 s more) and
    /// removes its directory. Close client connections first, or the smart shutdown waits for them.
    package func stop() {
        lock.withLock {
            if let process, process.isRunning {
                kill(process.processIdentifier, SIGTERM)
                if !Self.waitForExit(process, timeout: .seconds(5)) {
                    kill(process.processIdentifier, SIGINT)
                    if !Self.waitForExit(process, timeout: .seconds(10)) {
                        kill(process.processIdentifier, SIGKILL)
                        Self.waitForExit(process, timeout: .seconds(5))
                    }
                }
            }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    private func initializeDataDirectory(timeout: Duration) throws {
        let (status, output) = try Self.runToCompletion(
            Self.serverProgram("initdb"),
            Self.serverArguments("initdb", ["-D", dataDirectory.path, "-A", "trust", "-U", username, "--no-sync", "-E", "UTF8"]),
            timeout: timeout)
        guard status == 0 else { throw PostgresServerError("initdb failed with status \(status):\n\(output.suffix(2_000))") }
    }

    /// How often a start is tried on a new port when the server exits at once: the free port was
    /// taken by another process between `ChildProcess.freePort()` and the server's bind.
    static let startAttemptsMax = 3

    private func launchOnAFreePort(timeout: Duration) throws {
        for attempt in 1...Self.startAttemptsMax {
            if attempt > 1 { port = try ChildProcess.freePort() }
            try launch()
            do {
                return try waitUntilReady(timeout: timeout)
            } catch where !isRunning && attempt < Self.startAttemptsMax && logTail.contains("could not bind") {
                continue
            }
        }
    }

    private func launch() throws {
        let process = Process()
        process.executableURL = Self.serverProgram("postgres")
        process.arguments = Self.serverArguments(
            "postgres",
            [
                "-D", dataDirectory.path, "-p", "\(port)", "-k", directory.path,
                "-c", "listen_addresses=127.0.0.1",
                "-c", "ssl=on", "-c", "ssl_cert_file=\(serverCertificate.path)", "-c", "ssl_key_file=\(serverPrivateKey.path)",
                "-c", "ssl_min_protocol_version=TLSv1.2",
                // A throwaway server: no fsync; few connections and little memory on a shared machine.
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=40", "-c", "shared_buffers=32MB",
            ])
        let log = try FileHandle(forWritingTo: logFile)
        defer { try? log.close() }
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        try lock.withLock {
            try process.run()
            self.process = process
        }
    }

    /// Polls `postmaster.pid`, whose eighth line reads `ready` once the server accepts connections.
    private func waitUntilReady(timeout: Duration) throws {
        let pidFile = dataDirectory.appendingPathComponent("postmaster.pid")
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard isRunning else { throw PostgresServerError("postgres exited while starting; its log ends:\n\(logTail)") }
            let lines = ((try? String(contentsOf: pidFile, encoding: .utf8)) ?? "").split(separator: "\n", omittingEmptySubsequences: false)
            if lines.count > 7, lines[7].trimmingCharacters(in: .whitespaces) == "ready" { return }
            usleep(50_000)
        }
        throw PostgresServerError("postgres did not accept connections within \(timeout); its log ends:\n\(logTail)")
    }

    private func createDatabase(timeout: Duration) throws {
        let (status, output) = try Self.runToCompletion(
            Self.binaries.appendingPathComponent("createdb"),
            ["-h", directory.path, "-p", "\(port)", "-U", username, database], timeout: timeout)
        guard status == 0 else { throw PostgresServerError("createdb failed with status \(status): \(output.suffix(2_000))") }
    }

    private static func serverProgram(_ name: String) -> URL {
        runsAsRoot ? URL(fileURLWithPath: "/usr/bin/setpriv") : binaries.appendingPathComponent(name)
    }

    private static func serverArguments(_ name: String, _ arguments: [String]) -> [String] {
        guard runsAsRoot else { return arguments }
        return ["--reuid=\(serverUser)", "--regid=\(serverUser)", "--init-groups", "--", binaries.appendingPathComponent(name).path] + arguments
    }

    /// Runs a program to completion (killed after `timeout`); returns its status and output. Output
    /// goes to a file, not a pipe, so a chatty program cannot block on a full pipe while polled.
    @discardableResult
    private static func runToCompletion(_ executable: URL, _ arguments: [String], timeout: Duration) throws -> (status: Int32, output: String) {
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-postgres-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputFile) }
        let output = try FileHandle(forWritingTo: outputFile)
        defer { try? output.close() }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        // initdb and postgres run as the postgres user, who cannot enter root's working directory.
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        try process.run()
        if !waitForExit(process, timeout: timeout) {
            kill(process.processIdentifier, SIGKILL)
            waitForExit(process, timeout: .seconds(5))
            throw PostgresServerError("\(executable.lastPathComponent) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
        }
        let text = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        return (process.terminationStatus, text)
    }

    /// Polls instead of `waitUntilExit`, which spins a CPU on Linux. Returns whether the process exited.
    @discardableResult
    private static func waitForExit(_ process: Process, timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { usleep(20_000) }
        return !process.isRunning
    }
}

/// Why a test PostgreSQL server could not be started.
package struct PostgresServerError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
