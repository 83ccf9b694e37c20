import GRPCCore
import RPCTransport
import Synchronization

/// The calls waiting for their answers on one bidirectional stream, by correlation id: the client
/// side of Medrex's streamed APIs (`TransactionStream`, `EndorsementStream`), which carry many
/// concurrent calls on one stream because a unary gRPC call costs more CPU than the work it asks.
package final class PendingAnswers<Answer: Sendable>: Sendable {
    private struct Waiter {
        let continuation: CheckedContinuation<Answer, any Error>
        /// When the call fails with `deadlineExceeded` if no answer came (nil: never).
        let deadline: ContinuousClock.Instant?
    }

    private struct State {
        var nextID: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
        /// Set once the stream has ended: later calls fail with it at once.
        var closed: (any Error)?
    }

    private let state = Mutex(State())

    package init() {}

    /// Whether the stream has ended.
    package var isClosed: Bool { state.withLock { $0.closed != nil } }

    /// Registers a call, has `send` write its request under the new correlation id, and returns
    /// the answer `deliver` gets for that id. Fails with the stream's error if it ends first, and
    /// with `deadlineExceeded` when `expire` runs after `timeout`.
    package func call(timeout: Duration? = nil, send: (UInt64) -> Void) async throws -> Answer {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        return try await withCheckedThrowingContinuation { continuation in
            let registered = state.withLock { state -> Result<UInt64, any Error> in
                if let closed = state.closed { return .failure(closed) }
                state.nextID += 1
                state.waiters[state.nextID] = Waiter(continuation: continuation, deadline: deadline)
                return .success(state.nextID)
            }
            switch registered {
            case .failure(let error): continuation.resume(throwing: error)
            case .success(let id): send(id)
            }
        }
    }

    /// Hands `answer` to the call registered under `id` (an unknown or expired id is ignored).
    package func deliver(_ answer: Answer, to id: UInt64) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume(returning: answer)
    }

    /// Ends the stream: every waiting call, and every later one, fails with `error`.
    package func close(_ error: any Error) {
        let waiters = state.withLock { state -> [Waiter] in
            if state.closed == nil { state.closed = error }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: error) }
    }

    /// Fails the calls whose deadline has passed with `deadlineExceeded` and `message`.
    package func expire(at now: ContinuousClock.Instant = .now, message: String) {
        let expired = state.withLock { state -> [Waiter] in
            let ids = state.waiters.compactMap { id, waiter in waiter.deadline.map { $0 <= now } == true ? id : nil }
            return ids.compactMap { state.waiters.removeValue(forKey: $0) }
        }
        for waiter in expired { waiter.continuation.resume(throwing: RPCError(code: .deadlineExceeded, message: message)) }
    }
}
