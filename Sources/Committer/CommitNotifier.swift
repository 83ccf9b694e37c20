import Foundation
import LedgerCore
import LedgerWire
import Synchronization
import NodeClients

/// How a transaction ended up in a channel's ledger.
package struct CommitOutcome: Sendable, Hashable {
    package let blockNumber: UInt64
    package let validationCode: Protos_TxValidationCode

    package init(blockNumber: UInt64, validationCode: Protos_TxValidationCode) {
        self.blockNumber = blockNumber
        self.validationCode = validationCode
    }
}

/// Tells waiters the outcome of transactions as blocks commit. A waiter registers before looking
/// the transaction up in the ledger, so a commit between the two cannot be missed.
package final class CommitNotifier: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<CommitOutcome?, Never>
    }

    private struct State {
        var nextID: UInt64 = 0
        var waiters: [String: [Waiter]] = [:]
        var stopped = false
    }

    private let state = Mutex(State())
    /// Looks a transaction up in the committed ledger.
    private let lookup: @Sendable (String) throws -> CommitOutcome?
    /// Times the waits with a timeout.
    private let clock: any LedgerClock

    package init(lookup: @escaping @Sendable (String) throws -> CommitOutcome?, clock: any LedgerClock = SystemClock()) {
        self.lookup = lookup
        self.clock = clock
    }

    /// The outcome of `txID`, waiting for it to commit; nil when the waiting task is cancelled or
    /// the notifier stops (the peer shuts down).
    package func outcome(of txID: String) async throws -> CommitOutcome? {
        if let known = try lookup(txID) { return known }
        if state.withLock({ $0.stopped }) { return nil }
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<CommitOutcome?, Never>) in
                let stopped = state.withLock { state -> Bool in
                    state.waiters[txID, default: []].append(Waiter(id: id, continuation: continuation))
                    return state.stopped
                }
                // Committed between the first lookup and the registration: answer now.
                if stopped || Task.isCancelled || ((try? lookup(txID)) ?? nil) != nil {
                    resolve(txID, id: id, with: Task.isCancelled ? nil : ((try? lookup(txID)) ?? nil))
                }
            }
        } onCancel: {
            resolve(txID, id: id, with: nil)
        }
    }

    /// The outcome of `txID` if it commits within `timeout`; nil when it does not, or when the
    /// waiting task is cancelled or the notifier stops.
    package func outcome(of txID: String, within timeout: Duration) async throws -> CommitOutcome? {
        if let known = try lookup(txID) { return known }
        return try await withThrowingTaskGroup(of: CommitOutcome?.self) { group in
            group.addTask { try await self.outcome(of: txID) }
            group.addTask {
                try? await self.clock.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }

    /// Wakes the waiters of every transaction of a committed block.
    package func committed(blockNumber: UInt64, transactions: [(txID: String, code: Protos_TxValidationCode)]) {
        var woken: [(CheckedContinuation<CommitOutcome?, Never>, CommitOutcome)] = []
        state.withLock { state in
            guard !state.waiters.isEmpty else { return }
            for (txID, code) in transactions {
                guard let waiters = state.waiters.removeValue(forKey: txID) else { continue }
                let outcome = CommitOutcome(blockNumber: blockNumber, validationCode: code)
                woken += waiters.map { ($0.continuation, outcome) }
            }
        }
        for (continuation, outcome) in woken { continuation.resume(returning: outcome) }
    }

    /// Whether `stop()` was called: waits end at once.
    package var isStopped: Bool { state.withLock { $0.stopped } }

    /// Releases every waiter (with nil) and answers later waits at once: called on shutdown.
    package func stop() {
        let waiters = state.withLock { state -> [Waiter] in
            state.stopped = true
            defer { state.waiters.removeAll() }
            return state.waiters.values.flatMap { $0 }
        }
        for waiter in waiters { waiter.continuation.resume(returning: nil) }
    }

    private func resolve(_ txID: String, id: UInt64, with outcome: CommitOutcome?) {
        let waiter = state.withLock { state -> Waiter? in
            guard var waiters = state.waiters[txID], let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
            let waiter = waiters.remove(at: index)
            state.waiters[txID] = waiters.isEmpty ? nil : waiters
            return waiter
        }
        waiter?.continuation.resume(returning: outcome)
    }
}
