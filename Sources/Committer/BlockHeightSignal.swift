import Synchronization
import NodeClients

/// Wakes readers (Deliver streams, event streams) when a channel's ledger grows.
package final class BlockHeightSignal: Sendable {
    private struct State {
        var height: UInt64
        var nextID: UInt64 = 0
        var waiters: [UInt64: (height: UInt64, continuation: CheckedContinuation<Bool, Never>)] = [:]
        var stopped = false
    }

    private let state: Mutex<State>

    package init(height: UInt64) { state = Mutex(State(height: height)) }

    package var height: UInt64 { state.withLock { $0.height } }

    /// Records the new height and wakes readers waiting for it.
    package func advance(to height: UInt64) {
        let ready = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.height = max(state.height, height)
            let ready = state.waiters.filter { $0.value.height <= state.height }
            for id in ready.keys { state.waiters.removeValue(forKey: id) }
            return ready.values.map(\.continuation)
        }
        for continuation in ready { continuation.resume(returning: true) }
    }

    /// Waits until the ledger holds `height` blocks; false when the peer stops or the task is
    /// cancelled first.
    package func wait(forHeight height: UInt64) async -> Bool {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let answer = state.withLock { state -> Bool? in
                    if state.height >= height { return true }
                    if state.stopped || Task.isCancelled { return false }
                    state.waiters[id] = (height, continuation)
                    return nil
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(returning: false)
        }
    }

    /// Releases every reader (with false); later waits return false at once.
    package func stop() {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.stopped = true
            defer { state.waiters.removeAll() }
            return state.waiters.values.map(\.continuation)
        }
        for continuation in waiters { continuation.resume(returning: false) }
    }
}
