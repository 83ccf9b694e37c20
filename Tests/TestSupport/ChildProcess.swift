import Foundation
import Synchronization

/// Runs programs for tests: to completion, or in the background until stopped by PID.
package enum ChildProcess {
    /// Runs to completion; returns the exit status and the combined output. The wait happens off
    /// the cooperative pool (`offPool`).
    package static func run(_ executable: URL, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await offPool { try runBlocking(executable, arguments) }
    }

    /// Runs blocking `work` (waiting for a child process, reading its pipe, sleeping) on a thread
    /// outside Swift's cooperative pool and awaits its result. That pool has one thread per core,
    /// two here: a test blocking on them stalls every other suite of the parallel run, and with
    /// it their timers (a 100 ms timeout then fires seconds late).
    package static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    private static func runBlocking(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// The `medrex` executable built beside the test bundle.
    package static var medrex: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("medrex")
    }

    /// A port that was free a moment ago on 127.0.0.1, for a server a test starts later.
    ///
    /// Taken below the kernel's ephemeral range (`ip_local_port_range`), never from it: outgoing
    /// connections, which the parallel tests open by the thousand, take their local ports from
    /// that range and could take a port handed out here before its server binds it ("Address
    /// already in use"). Ports are handed out in turn from a random start, each checked by binding
    /// it, so one test process never hands out the same port twice.
    package static func freePort() throws -> Int {
        let (low, high) = portRange
        for _ in low..<high {
            let port = nextPort.withLock { next -> Int in
                defer { next = next + 1 >= high ? low : next + 1 }
                return next
            }
            if canBind(port) { return port }
        }
        throw POSIXError(.EADDRINUSE)
    }

    /// Ports below the ephemeral range: [ephemeral low − 12,000, ephemeral low), at least 1024.
    private static let portRange: (Int, Int) = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let ephemeralLow = text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
        let high = max(ephemeralLow, 2_048)
        return (max(1_024, high - 12_000), high)
    }()

    private static let nextPort = Mutex<Int>(Int.random(in: portRange.0..<portRange.1))

    private static func canBind(_ port: Int) -> Bool {
        let socketHandle = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketHandle >= 0 else { return false }
        defer { close(socketHandle) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketHandle, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
