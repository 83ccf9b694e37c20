import Foundation
import Synchronization

/// The time every timer and timestamp of the ordering chains, the committer, the gateway and
/// their helpers comes from: the system's clocks in a node (`SystemClock`), a clock that moves
/// only when told to in tests and the simulation (`ManualClock`).
package protocol LedgerClock: Sendable {
    /// Wall-clock time: transaction and block timestamps, certificate validity.
    var now: Date { get }
    /// Monotonic time since an arbitrary origin, for intervals and deadlines.
    var elapsed: Duration { get }
    /// Suspends for `duration`; throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
    /// Runs `action` once `delay` has passed (a one-shot timer, not cancellable: callers check
    /// whether it is still wanted when it fires).
    func schedule(after delay: Duration, _ action: @escaping @Sendable () async -> Void)
}

extension LedgerClock {
    package func schedule(after delay: Duration, _ action: @escaping @Sendable () async -> Void) {
        Task {
            try? await sleep(for: delay)
            await action()
        }
    }
}

/// The system's clocks: `Date()` (or the given wall clock) and the continuous monotonic clock.
package struct SystemClock: LedgerClock {
    private let origin = ContinuousClock.now
    private let wallClock: @Sendable () -> Date

    /// `wallClock` replaces `Date()` where tests need a fixed date (certificates issued at a
    /// fixed time); timers still run in real time.
    package init(wallClock: @escaping @Sendable () -> Date = { Date() }) { self.wallClock = wallClock }

    package var now: Date { wallClock() }
    package var elapsed: Duration { ContinuousClock.now - origin }
    package func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

/// A clock that moves only when `advance` is called: timers run in the order they fall due,
/// each awaited before the next, so a test or the simulation steps through time
/// deterministically. Sleepers are woken when their time comes.
package final class ManualClock: LedgerClock {
    private struct Pending {
        let due: Duration
        let sequence: Int
        let work: Work
    }

    private enum Work {
        case timer(@Sendable () async -> Void)
        case sleeper(CheckedContinuation<Void, any Error>)
    }

    private struct State {
        var elapsed: Duration = .zero
        var pending: [Pending] = []
        var sequence = 0
    }

    private let origin: Date
    private let state = Mutex(State())

    package init(start: Date) { origin = start }

    package var now: Date {
        let elapsed = state.withLock { $0.elapsed }
        return origin.addingTimeInterval(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    package var elapsed: Duration { state.withLock { $0.elapsed } }

    /// Timers and sleepers waiting.
    package var pendingCount: Int { state.withLock { $0.pending.count } }

    /// When the next timer or sleeper falls due (as `elapsed`); nil when none is waiting.
    package var nextDue: Duration? { state.withLock { $0.pending.map(\.due).min() } }

    package func sleep(for duration: Duration) async throws {
        let sequence = state.withLock { state -> Int in
            state.sequence += 1
            return state.sequence
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Cancelled before registering: the cancellation handler found nothing to end.
                guard !Task.isCancelled else { return continuation.resume(throwing: CancellationError()) }
                state.withLock { state in
                    state.pending.append(Pending(due: state.elapsed + max(duration, .zero), sequence: sequence, work: .sleeper(continuation)))
                }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> Pending? in
                guard let index = state.pending.firstIndex(where: { $0.sequence == sequence }) else { return nil }
                return state.pending.remove(at: index)
            }
            if case .sleeper(let continuation) = cancelled?.work { continuation.resume(throwing: CancellationError()) }
        }
    }

    package func schedule(after delay: Duration, _ action: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            state.sequence += 1
            state.pending.append(Pending(due: state.elapsed + max(delay, .zero), sequence: state.sequence, work: .timer(action)))
        }
    }

    /// Moves time forward by `duration`, running every timer that falls due on the way (in due
    /// order, then in the order scheduled; a timer scheduled by one that runs is run too if due)
    /// and waking sleepers.
    package func advance(by duration: Duration) async {
        let target = state.withLock { $0.elapsed + max(duration, .zero) }
        while let next = takeNext(dueBy: target) {
            switch next.work {
            case .timer(let action): await action()
            case .sleeper(let continuation): continuation.resume()
            }
        }
        state.withLock { $0.elapsed = max($0.elapsed, target) }
    }

    private func takeNext(dueBy target: Duration) -> Pending? {
        state.withLock { state in
            guard let index = state.pending.indices.filter({ state.pending[$0].due <= target })
                .min(by: { (state.pending[$0].due, state.pending[$0].sequence) < (state.pending[$1].due, state.pending[$1].sequence) })
            else { return nil }
            let next = state.pending.remove(at: index)
            state.elapsed = max(state.elapsed, next.due)
            return next
        }
    }
}
