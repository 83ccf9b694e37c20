import Crypto
import Foundation
import Identity
import RPCTransport

/// A throwaway etcd cluster of real `etcd` processes (Debian's etcd-server) on free loopback ports,
/// for tests. Members can be SIGKILLed and restarted; `stop()` ends them all and removes their data.
///
/// Like a production cluster, it serves clients and its own peers over mutual TLS only: a CA of its
/// own issues the members' certificate (for 127.0.0.1) and a client certificate (`clientTLS`);
/// `/health` is served in plaintext on a separate metrics port for the readiness checks.
///
/// Starting fails with a clear error when the etcd binary is missing: tests that need etcd must not
/// pass by skipping.
package final class EtcdCluster: @unchecked Sendable {
    /// One member: its ports, its data directory and, while it runs, its process.
    package final class Member: @unchecked Sendable {
        package let name: String
        package let clientPort: Int
        package let peerPort: Int
        let metricsPort: Int
        let dataDirectory: URL
        let logFile: URL
        /// The member's server certificate and key (for clients and for its peers).
        let certificate: URL
        let privateKey: URL
        var process: Process?

        init(name: String, clientPort: Int, peerPort: Int, metricsPort: Int, directory: URL, certificate: URL, privateKey: URL) {
            self.name = name
            self.clientPort = clientPort
            self.peerPort = peerPort
            self.metricsPort = metricsPort
            self.dataDirectory = directory.appendingPathComponent("\(name).etcd")
            self.logFile = directory.appendingPathComponent("\(name).log")
            self.certificate = certificate
            self.privateKey = privateKey
        }

        /// `127.0.0.1:port`, the address clients use.
        package var endpoint: String { "127.0.0.1:\(clientPort)" }
        var clientURL: String { "https://127.0.0.1:\(clientPort)" }
        var peerURL: String { "https://127.0.0.1:\(peerPort)" }
        var metricsURL: String { "http://127.0.0.1:\(metricsPort)" }
        package var isRunning: Bool { process?.isRunning ?? false }

        /// The end of the member's log, for failure messages.
        package var logTail: String {
            let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").suffix(15).joined(separator: "\n")
        }
    }

    /// Where Debian's etcd-server installs etcd.
    package static let executable = URL(fileURLWithPath: "/usr/bin/etcd")

    package let members: [Member]
    /// The cluster's CA certificate (it signs the members' and the client's certificates).
    package let caCertificate: URL
    /// A client certificate etcd accepts, with its key, trusting the cluster's CA.
    package let clientTLS: MutualTLS
    private let directory: URL
    private let token: String
    private let lock = NSLock()

    /// The members' client addresses, `127.0.0.1:port`, in member order.
    package var endpoints: [String] { members.map(\.endpoint) }

    /// A member of a network description, with the certificate `medrex crypto generate` issued it.
    package struct Described: Sendable {
        package let name: String
        package let clientPort: Int
        package let peerPort: Int
        package let certificate: URL
        package let privateKey: URL

        package init(name: String, clientPort: Int, peerPort: Int, certificate: URL, privateKey: URL) {
            self.name = name
            self.clientPort = clientPort
            self.peerPort = peerPort
            self.certificate = certificate
            self.privateKey = privateKey
        }
    }

    /// Starts the etcd members a network describes (`network.yaml`'s `etcd`, on its ports, with the
    /// certificates of its crypto material), trusting `trustedCA` for clients and peers (the orderer
    /// organization's TLS CA): the cluster the files of `medrex network render` dial. `clientTLS`
    /// is what the test's own clients use. No retry on other ports: the ports are the network's.
    package static func start(
        describedMembers described: [Described], trustedCA: URL, clientTLS: MutualTLS, timeout: Duration = .seconds(20)
    ) async throws -> EtcdCluster {
        try checkInstalled()
        let cluster = try EtcdCluster(described: described, trustedCA: trustedCA, clientTLS: clientTLS)
        try await cluster.launchAll(timeout: timeout)
        return cluster
    }

    /// Launches every member and waits until each is healthy; stops them all when one is not.
    private func launchAll(timeout: Duration) async throws {
        do {
            for member in members { try launch(member) }
            for member in members { try await waitUntilHealthy(member, timeout: timeout) }
        } catch {
            stop()
            throw error
        }
    }

    /// A fresh data directory (on tmpfs when there is one: etcd syncs every write, which is slow
    /// on a disk shared with builds) and the cluster token named after it.
    private static func makeDirectory() throws -> (token: String, directory: URL) {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        let token = "medrex-test-\(UUID().uuidString.prefix(8))"
        let directory = base.appendingPathComponent(token)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return (token, directory)
    }

    private static func checkInstalled() throws {
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw EtcdClusterError(
                "etcd is not installed at \(executable.path): install Debian's etcd-server (`apt-get install -y etcd-server`; scripts/test.sh does it)"
            )
        }
    }

    private init(described: [Described], trustedCA: URL, clientTLS: MutualTLS) throws {
        let (token, directory) = try Self.makeDirectory()
        self.token = token
        self.directory = directory
        members = try described.map { member in
            Member(
                name: member.name, clientPort: member.clientPort, peerPort: member.peerPort, metricsPort: try ChildProcess.freePort(),
                directory: directory, certificate: member.certificate, privateKey: member.privateKey)
        }
        caCertificate = trustedCA
        self.clientTLS = clientTLS
    }

    /// Starts `size` members as a new cluster and waits (up to `timeout`) until each is healthy.
    package static func start(members size: Int = 1, timeout: Duration = .seconds(20)) async throws -> EtcdCluster {
        try checkInstalled()
        // Another process of the parallel test run may take a free port between its choice and
        // etcd's bind; a cluster that does not come up is started again once on new ports.
        var attempt = 1
        while true {
            let cluster = try EtcdCluster(size: size)
            do {
                try await cluster.launchAll(timeout: timeout)
                return cluster
            } catch {
                guard attempt < 2 else { throw error }
                print("etcd cluster did not start (\(error)); starting it again on new ports")
                attempt += 1
            }
        }
    }

    private init(size: Int) throws {
        precondition(size >= 1, "an etcd cluster needs at least one member")
        let (token, directory) = try Self.makeDirectory()
        self.token = token
        self.directory = directory
        var ports = Set<Int>()
        while ports.count < 3 * size { ports.insert(try ChildProcess.freePort()) }
        let sorted = Array(ports).shuffled()
        let tls = directory.appendingPathComponent("tls")
        try FileManager.default.createDirectory(at: tls, withIntermediateDirectories: true)
        let now = Date()
        let ca = try CertificateAuthority.makeRoot(
            commonName: "etcd-ca.\(token)", organization: "medrex-test-etcd", notValidBefore: now.addingTimeInterval(-60),
            notValidAfter: now.addingTimeInterval(86_400))
        func issue(_ name: String, hosts: [String]) throws -> (certificate: URL, key: URL) {
            let key = P256.Signing.PrivateKey()
            let certificate = try ca.issue(CertificateRequest(
                commonName: name, publicKey: key.publicKey, usage: .tls, subjectAlternativeNames: hosts,
                notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(86_400)))
            let certificateFile = tls.appendingPathComponent("\(name).pem")
            let keyFile = tls.appendingPathComponent("\(name)-key.pem")
            try certificate.serializeAsPEM().pemString.write(to: certificateFile, atomically: true, encoding: .utf8)
            try key.pemRepresentation.write(to: keyFile, atomically: true, encoding: .utf8)
            return (certificateFile, keyFile)
        }
        caCertificate = tls.appendingPathComponent("ca.pem")
        try ca.certificate.serializeAsPEM().pemString.write(to: caCertificate, atomically: true, encoding: .utf8)
        let (serverCertificate, serverPrivateKey) = try issue("member", hosts: ["127.0.0.1", "localhost"])
        members = (0..<size).map { index in
            Member(
                name: "m\(index)", clientPort: sorted[3 * index], peerPort: sorted[3 * index + 1], metricsPort: sorted[3 * index + 2],
                directory: directory, certificate: serverCertificate, privateKey: serverPrivateKey)
        }
        let client = try issue("client", hosts: [])
        clientTLS = MutualTLS(certificate: client.certificate, privateKey: client.key, trustedCAs: [caCertificate])
    }

    /// A client certificate from another CA, which the cluster refuses; it trusts the cluster's CA.
    package static func strangerTLS(trusting cluster: EtcdCluster, in directory: URL) throws -> MutualTLS {
        var stranger = try standaloneTLS(in: directory, name: "stranger")
        stranger.trustedCAs = [cluster.caCertificate]
        return stranger
    }

    /// TLS files of a CA of their own (`NAME-ca.pem`) and a certificate it issued for 127.0.0.1
    /// (`NAME.pem`, `NAME-key.pem`), trusting that CA: for clients of nothing in particular.
    package static func standaloneTLS(in directory: URL, name: String) throws -> MutualTLS {
        let now = Date()
        let ca = try CertificateAuthority.makeRoot(
            commonName: "\(name)-ca", organization: "elsewhere", notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(86_400))
        let key = P256.Signing.PrivateKey()
        let certificate = try ca.issue(CertificateRequest(
            commonName: name, publicKey: key.publicKey, usage: .tls, subjectAlternativeNames: ["127.0.0.1"],
            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(86_400)))
        let caFile = directory.appendingPathComponent("\(name)-ca.pem")
        let certificateFile = directory.appendingPathComponent("\(name).pem")
        let keyFile = directory.appendingPathComponent("\(name)-key.pem")
        try ca.certificate.serializeAsPEM().pemString.write(to: caFile, atomically: true, encoding: .utf8)
        try certificate.serializeAsPEM().pemString.write(to: certificateFile, atomically: true, encoding: .utf8)
        try key.pemRepresentation.write(to: keyFile, atomically: true, encoding: .utf8)
        return MutualTLS(certificate: certificateFile, privateKey: keyFile, trustedCAs: [caFile])
    }

    deinit { stop() }

    /// SIGKILLs a member (no clean shutdown) and waits until it is gone.
    package func kill(member index: Int) {
        let member = members[index]
        lock.withLock {
            guard let process = member.process, process.isRunning else { return }
            Foundation.kill(process.processIdentifier, SIGKILL)
            Self.waitForExit(process, timeout: .seconds(10))
        }
    }

    /// Starts a member again on its data directory (after `kill(member:)`) and waits until it is healthy.
    package func restart(member index: Int, timeout: Duration = .seconds(20)) async throws {
        let member = members[index]
        guard !member.isRunning else { return }
        try launch(member)
        try await waitUntilHealthy(member, timeout: timeout)
    }

    /// Stops every member (SIGTERM, then SIGKILL after 5 s) and removes the data directories.
    package func stop() {
        lock.withLock {
            for member in members {
                guard let process = member.process, process.isRunning else { continue }
                Foundation.kill(process.processIdentifier, SIGTERM)
            }
            for member in members {
                guard let process = member.process else { continue }
                if !Self.waitForExit(process, timeout: .seconds(5)) {
                    Foundation.kill(process.processIdentifier, SIGKILL)
                    Self.waitForExit(process, timeout: .seconds(5))
                }
            }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    private func launch(_ member: Member) throws {
        let initialCluster = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = [
            "--name", member.name,
            "--data-dir", member.dataDirectory.path,
            "--listen-client-urls", member.clientURL,
            "--advertise-client-urls", member.clientURL,
            "--listen-peer-urls", member.peerURL,
            "--initial-advertise-peer-urls", member.peerURL,
            "--initial-cluster", initialCluster,
            "--initial-cluster-state", "new",
            "--initial-cluster-token", token,
            "--listen-metrics-urls", member.metricsURL,
            "--cert-file", member.certificate.path, "--key-file", member.privateKey.path,
            "--client-cert-auth", "--trusted-ca-file", caCertificate.path,
            "--peer-cert-file", member.certificate.path, "--peer-key-file", member.privateKey.path,
            "--peer-client-cert-auth", "--peer-trusted-ca-file", caCertificate.path,
            "--logger", "zap",
            "--log-outputs", "stderr",
        ]
        if !FileManager.default.fileExists(atPath: member.logFile.path) {
            _ = FileManager.default.createFile(atPath: member.logFile.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: member.logFile)
        defer { try? log.close() }
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try lock.withLock {
            try process.run()
            member.process = process
        }
    }

    /// Polls the member's `/health` until it reports healthy (it has a leader and serves reads).
    private func waitUntilHealthy(_ member: Member, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastAnswer = "no answer"
        while ContinuousClock.now < deadline {
            guard member.isRunning else {
                throw EtcdClusterError("etcd member \(member.name) exited while starting; its log ends:\n\(member.logTail)")
            }
            do {
                let answer = try await HTTP.get("\(member.metricsURL)/health")
                if answer.status == 200, answer.body.contains("\"true\"") { return }
                lastAnswer = "HTTP \(answer.status): \(answer.body)"
            } catch {
                lastAnswer = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw EtcdClusterError("etcd member \(member.name) was not healthy within \(timeout) (\(lastAnswer)); its log ends:\n\(member.logTail)")
    }

    /// Polls instead of `waitUntilExit`, which spins a CPU on Linux. Returns whether the process exited.
    @discardableResult
    private static func waitForExit(_ process: Process, timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { usleep(20_000) }
        return !process.isRunning
    }
}

/// Why a test etcd cluster could not be started.
package struct EtcdClusterError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}
