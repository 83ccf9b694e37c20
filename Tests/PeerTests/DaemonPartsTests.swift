import Logging
import RPCTransport
import ServiceLifecycle
import Synchronization
import Testing

/// A daemon's parts in its ServiceGroup: a graceful shutdown stops them in reverse order, each
/// after the one started after it has returned; background work that ends by itself does not
/// stop the daemon; a failing part still lets the others release what they hold.
@Suite struct DaemonPartsTests {
    final class Events: Sendable {
        private let list = Mutex<[String]>([])
        func record(_ event: String) { list.withLock { $0.append(event) } }
        var all: [String] { list.withLock { $0 } }
    }

    struct Failing: Service, CustomStringConvertible {
        var description: String { "failing" }
        func run() async throws {
            try await Task.sleep(for: .milliseconds(50))
            throw CancellationError()
        }
    }

    static let logger = Logger(label: "medrex.test.parts") { _ in SwiftLogNoOpLogHandler() }

    @Test func shutdownStopsThePartsInReverseOrder() async throws {
        let events = Events()
        let parts = DaemonPartsGroup()
        let group = ServiceGroup(
            services: [
                ReleasedPart("ledgers") { events.record("ledgers closed") },
                BackgroundPart("quick") { events.record("quick work done") } afterwards: { events.record("quick afterwards") },
                BackgroundPart("chains") {
                    while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
                    events.record("chains cancelled")
                } afterwards: {
                    events.record("chains afterwards")
                },
                ReleasedPart("operations") { events.record("operations closed") },
            ], gracefulShutdownSignals: [], cancellationSignals: [], logger: Self.logger)
        let running = Task { try await parts.run(group) }
        // The quick work ends by itself; the daemon goes on running (else the parts would have
        // been released before the shutdown, out of the order checked below).
        let deadline = ContinuousClock.now + .seconds(60)
        while !events.all.contains("quick work done"), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(events.all == ["quick work done"])
        parts.shutDown()
        try await running.value
        #expect(events.all == ["quick work done", "operations closed", "chains cancelled", "chains afterwards", "quick afterwards", "ledgers closed"])
    }

    @Test func aShutdownAskedForBeforeTheGroupRunsStopsItAtOnce() async throws {
        let events = Events()
        let parts = DaemonPartsGroup()
        parts.shutDown()
        let group = ServiceGroup(
            services: [ReleasedPart("ledgers") { events.record("ledgers closed") }], gracefulShutdownSignals: [], cancellationSignals: [], logger: Self.logger)
        try await parts.run(group)
        #expect(events.all == ["ledgers closed"])
    }

    @Test func aFailingPartStillLetsTheOthersRelease() async throws {
        let events = Events()
        let group = ServiceGroup(
            services: [
                ReleasedPart("ledgers") { events.record("ledgers closed") },
                BackgroundPart("chains") {
                    while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
                } afterwards: {
                    events.record("chains afterwards")
                },
                Failing(),
            ], gracefulShutdownSignals: [], cancellationSignals: [], logger: Self.logger)
        await #expect(throws: (any Error).self) { try await DaemonPartsGroup().run(group) }
        #expect(Set(events.all) == ["chains afterwards", "ledgers closed"])
    }
}
