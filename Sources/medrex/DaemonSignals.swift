import Foundation

/// Runs a daemon until it returns; SIGTERM and SIGINT call `shutdown` so it stops gracefully.
func runUntilStopped(_ run: () async throws -> Void, shutdown: @escaping @Sendable () -> Void) async throws {
    let signals = [SIGTERM, SIGINT].map { signalNumber -> DispatchSourceSignal in
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber)
        source.setEventHandler(handler: shutdown)
        source.resume()
        return source
    }
    defer { signals.forEach { $0.cancel() } }
    try await run()
}
