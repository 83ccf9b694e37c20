import Foundation
import TestSupport
import Testing

@testable import WorldState

/// A real child process (`medrex bench state`) commits blocks in a loop and is SIGKILLed at a
/// random moment, again and again on the same ledger. After every kill: no block whose commit
/// the child reported is lost, the state equals a replay of the stored blocks, and `ledger verify`
/// passes.
@Suite struct CrashRecoveryTests {
    static let trials = 20

    /// The `medrex` executable built beside the test bundle.
    static var medrexExecutable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("medrex")
    }

    @Test func survivesRepeatedSIGKILL() async throws {
        let medrex = Self.medrexExecutable
        try #require(FileManager.default.isExecutableFile(atPath: medrex.path), "build medrex first (swift build --build-tests builds it)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var generator = SystemRandomNumberGenerator()
        var previousHeight: UInt64 = 0
        for trial in 0..<Self.trials {
            let delay = Duration.milliseconds(Int.random(in: 150...700, using: &generator))
            let reported = try await ChildProcess.offPool { try Self.runAndKill(medrex, directory: directory, seed: UInt64(trial), after: delay) }
            let ledger = try Ledger(directory: directory)
            let height = ledger.height
            try ledger.close()
            if let reported {
                #expect(height > reported, "trial \(trial): block \(reported) was reported committed but the ledger has \(height) blocks")
            }
            #expect(height >= previousHeight, "trial \(trial): the ledger shrank from \(previousHeight) to \(height)")
            previousHeight = height
            let report = LedgerVerifier.verify(directory: directory)
            #expect(report.isSound, "trial \(trial): \(report.problem ?? "")")
            #expect(report.savepoint.map { $0 + 1 } == height)
        }
        #expect(previousHeight > 0, "the child never committed a block")
    }

    /// Starts the child, waits until it has committed at least one block and then `after`, kills
    /// it with SIGKILL, and returns the last block it reported committed.
    private static func runAndKill(_ medrex: URL, directory: URL, seed: UInt64, after delay: Duration) throws -> UInt64? {
        let process = Process()
        process.executableURL = medrex
        process.arguments = [
            "bench", "state", "--data", directory.path, "--blocks", "1000000", "--transactions", "50",
            "--keys", "500", "--print-commits", "--no-baseline", "--seed", "\(seed)",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(20)
        var text = ""
        // Wait for the first commit so that each kill lands in the commit loop.
        while !text.contains("committed"), ContinuousClock.now < deadline, process.isRunning {
            text += String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        }
        Thread.sleep(forTimeInterval: Double(delay.components.attoseconds) / 1e18 + Double(delay.components.seconds))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        text += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let committed = text.split(separator: "\n").filter { $0.hasPrefix("committed ") }
        return committed.last.flatMap { UInt64($0.dropFirst("committed ".count)) }
    }
}
