import Synchronization

/// The answer to one broadcast envelope, to come: handed out once the envelope has its place in
/// the channel's order (or its refusal), resolved when its block is durable. Splitting the two
/// lets a Broadcast stream hand envelopes to the chain one after another, in the order they came
/// (as Fabric does), while their answers are awaited concurrently.
package final class BroadcastReceipt: Sendable {
    private struct State {
        var outcome: BroadcastOutcome?
        var waiters: [CheckedContinuation<BroadcastOutcome, Never>] = []
    }

    private let state: Mutex<State>

    /// A receipt still waiting for its outcome.
    package init() { state = Mutex(State()) }

    /// A receipt with its outcome already known (a refusal).
    package init(_ outcome: BroadcastOutcome) { state = Mutex(State(outcome: outcome)) }

    /// Records the outcome and wakes every waiter; later calls change nothing.
    package func resume(returning outcome: BroadcastOutcome) {
        let waiters = state.withLock { state -> [CheckedContinuation<BroadcastOutcome, Never>] in
            guard state.outcome == nil else { return [] }
            state.outcome = outcome
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }

    /// The outcome if it is known already; nil while the envelope waits for its block.
    package var resolvedOutcome: BroadcastOutcome? { state.withLock { $0.outcome } }

    /// The outcome, waiting for it if need be.
    package var outcome: BroadcastOutcome {
        get async {
            await withCheckedContinuation { continuation in
                let known = state.withLock { state -> BroadcastOutcome? in
                    if let outcome = state.outcome { return outcome }
                    state.waiters.append(continuation)
                    return nil
                }
                if let known { continuation.resume(returning: known) }
            }
        }
    }
}
