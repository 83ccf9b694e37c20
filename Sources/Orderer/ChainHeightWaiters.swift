import LedgerWire
import Synchronization
import WorldState

/// Readers waiting for a chain to reach a height (Deliver streams waiting for the next block).
///
/// The chain reports each new height with `advance(to:)`; `wait(forHeight:)` returns once the height
/// is reached, throws `CancellationError` when the waiting task is cancelled, and
/// `OrdererError.unavailable` once the chain has stopped serving.
package final class ChainHeightWaiters: Sendable {
    private struct Waiter {
        let id: UInt64
        let height: UInt64
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var height: UInt64
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        var stopped = false
    }

    private let state: Mutex<State>

    package init(height: UInt64) { state = Mutex(State(height: height)) }

    /// Records the chain's new height and wakes the readers it satisfies.
    package func advance(to height: UInt64) {
        let ready = state.withLock { state -> [Waiter] in
            state.height = max(state.height, height)
            let current = state.height
            let ready = state.waiters.filter { $0.height <= current }
            state.waiters.removeAll { $0.height <= current }
            return ready
        }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// Returns once the chain holds at least `height` blocks.
    package func wait(forHeight height: UInt64) async throws {
        let id = try state.withLock { state throws(OrdererError) -> UInt64 in
            guard !state.stopped || state.height >= height else { throw OrdererError(.unavailable, "the orderer is shutting down") }
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let waiting = state.withLock { state -> Bool in
                    guard state.height < height, !state.stopped, !Task.isCancelled else { return false }
                    state.waiters.append(Waiter(id: id, height: height, continuation: continuation))
                    return true
                }
                if !waiting { continuation.resume() }
            }
        } onCancel: {
            release(id)
        }
        try Task.checkCancellation()
        let reached = state.withLock { $0.height >= height }
        guard reached else { throw OrdererError(.unavailable, "the orderer is shutting down") }
    }

    private func release(_ id: UInt64) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume()
    }

    /// Wakes every reader; later waits for a height not yet reached fail at once.
    package func stop() {
        let waiting = state.withLock { state -> [Waiter] in
            state.stopped = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiting { waiter.continuation.resume() }
    }
}

extension ChainHeightWaiters {
    /// Block `number` of `store`, the chain's blocks; with `wait`, waits until it is stored (or
    /// the task is cancelled, or the chain stops serving), otherwise nil when it is not yet.
    package func block(_ number: UInt64, wait: Bool, in store: any BlockStorage) async throws -> Common_Block? {
        if number >= store.height {
            // Block 2^64-1 would need a height past UInt64.max: it can never be cut.
            let (height, overflow) = number.addingReportingOverflow(1)
            guard wait, !overflow else { return nil }
            try await self.wait(forHeight: height)
        }
        return try store.block(number: number)
    }
}
