import Foundation

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

    /// A port that was free a moment ago on 127.0.0.1 (the kernel's choice for port 0).
    package static func freePort() throws -> Int {
        let socketHandle = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketHandle >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(socketHandle) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketHandle, $0, length) == 0 && getsockname(socketHandle, $0, &length) == 0 }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
