import Foundation
import LedgerCore
import LedgerWire
import Synchronization
import WorldState
import Committer
import NodeClients

/// The gateway's early abort (peer.yaml `earlyAbort`): before an endorsed transaction is sent to
/// ordering, its point reads are compared with the committed state and with the writes of the
/// transactions this gateway sent to ordering that have not committed yet on this peer.
///
/// - A read whose version differs from the committed one can never pass the peers' read conflict
///   check: the transaction is not ordered, and the client gets `MVCC_READ_CONFLICT` at once
///   (an ABORTED failure whose message starts with `abortMessagePrefix`).
/// - A read of a key that a pending transaction writes is stale as soon as that transaction
///   commits valid. The check then names the pending transactions; the gateway waits for their
///   outcome and checks again, so a transaction is aborted only when it is certainly stale, and a
///   client whose transaction lost the race learns it one commit later instead of one block later
///   plus the cost of ordering and validating it.
///
/// Before that, at endorsement, a proposal whose simulation read a key that a pending transaction
/// writes is simulated again once that transaction is finished (`pendingWriters`), at most
/// `waitRoundsMax` times: conflicting clients are served one after another with fresh reads. An
/// endorsement that read nothing pending reserves its writes at once (`reserve`), so that the
/// proposals after it wait for it instead of racing it to the orderer.
///
/// Range queries are not checked here (the peers still check them). One instance per channel.
package final class ReadConflictPrecheck: Sendable {
    /// Prefix of the failure message of a transaction aborted before ordering.
    package static let abortMessagePrefix = GatewayClient.earlyAbortMessagePrefix
    /// How often one transaction waits for pending transactions before it is sent anyway.
    package static let waitRoundsMax = 4

    package enum Verdict: Equatable, Sendable {
        /// Send it: its writes are now registered as pending under its txid.
        case proceed
        /// A read is older than the committed state.
        case stale
        /// It reads keys that these pending transactions write.
        case wait(for: [String])
    }

    private struct State {
        /// Pending writer txids of each key (`namespace U+0000 key`).
        var writersByKey: [String: Set<String>] = [:]
        /// Keys written by each pending txid.
        var keysByWriter: [String: [String]] = [:]
        /// Tasks waiting for a pending txid to finish.
        var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
        /// Pending txids registered at endorsement and not yet submitted, with the instant their
        /// reservation ends. An ended reservation counts as finished at once, even before the task
        /// that removes it has run.
        var reserved: [String: Duration] = [:]

        /// Whether `transactionID`'s registration is in force at `now`.
        func isPending(_ transactionID: String, at now: Duration) -> Bool {
            guard keysByWriter[transactionID] != nil else { return false }
            guard let end = reserved[transactionID] else { return true }
            return end > now
        }

        /// The pending txids (other than `transactionID`) that write one of `keys`.
        func pendingWriters(of keys: [String], except transactionID: String, at now: Duration) -> Set<String> {
            var writers = Set<String>()
            for key in keys {
                for writer in writersByKey[key] ?? [] where writer != transactionID && isPending(writer, at: now) {
                    writers.insert(writer)
                }
            }
            return writers
        }
    }

    /// How long an endorsement's reservation lasts if its transaction is never submitted.
    package static let reservationLifetime = Duration.seconds(2)

    private let state = Mutex(State())

    /// Times the reservations.
    private let clock: any LedgerClock

    package init(clock: any LedgerClock = SystemClock()) { self.clock = clock }

    /// Number of pending transactions (for tests and metrics).
    package var pendingCount: Int {
        let now = clock.elapsed
        return state.withLock { state in state.keysByWriter.keys.count { state.isPending($0, at: now) } }
    }

    /// Checks `transaction` (txid `transactionID`) against `reader` and the pending writes; on
    /// `.proceed` registers its writes until `finished(_:)`. With `force`, registers it even when
    /// it reads pending writes (after the last wait round).
    package func check(
        _ transaction: EndorserTransaction, transactionID: String, reader: any StateReader, force: Bool = false
    ) throws -> Verdict {
        for (namespace, set) in transaction.readWriteSets where !set.reads.isEmpty {
            let current = try reader.getMany(namespace: namespace, keys: set.reads.map(\.key))
            for (read, value) in zip(set.reads, current) where !read.matches(value?.version) { return .stale }
        }
        let reads = transaction.readWriteSets.flatMap { namespace, set in set.reads.map { Self.id(namespace, $0.key) } }
        let writes = transaction.readWriteSets.flatMap { namespace, set in
            set.writes.map { Self.id(namespace, $0.key) } + set.metadataWrites.map { Self.id(namespace, $0.key) }
        }
        let now = clock.elapsed
        return state.withLock { state in
            if !force {
                let blockers = state.pendingWriters(of: reads, except: transactionID, at: now)
                if !blockers.isEmpty { return .wait(for: blockers.sorted()) }
            }
            state.reserved[transactionID] = nil
            guard !writes.isEmpty, state.keysByWriter[transactionID] == nil else { return .proceed }
            state.keysByWriter[transactionID] = writes
            for key in writes { state.writersByKey[key, default: []].insert(transactionID) }
            return .proceed
        }
    }

    /// The pending transactions (other than `transactionID`) that write a key `transaction`
    /// reads; nothing is registered. The gateway asks this right after endorsing: a simulation
    /// that read such a key is run again once they have committed, so that it reads fresh values
    /// instead of being aborted at submit.
    package func pendingWriters(readBy transaction: EndorserTransaction, transactionID: String) -> [String] {
        let reads = transaction.readWriteSets.flatMap { namespace, set in set.reads.map { Self.id(namespace, $0.key) } }
        guard !reads.isEmpty else { return [] }
        let now = clock.elapsed
        return state.withLock { state in state.pendingWriters(of: reads, except: transactionID, at: now).sorted() }
    }

    /// Registers the writes of a just-endorsed `transaction` as pending, so that proposals
    /// reading them wait for it (`pendingWriters`) rather than race it. The reservation becomes
    /// the submitted transaction's registration (`check`), or ends after `lifetime` if it is
    /// never submitted, or with `finished`.
    package func reserve(_ transaction: EndorserTransaction, transactionID: String, lifetime: Duration = reservationLifetime) {
        let writes = transaction.readWriteSets.flatMap { namespace, set in
            set.writes.map { Self.id(namespace, $0.key) } + set.metadataWrites.map { Self.id(namespace, $0.key) }
        }
        let end = clock.elapsed + lifetime
        let reserved = state.withLock { state -> Bool in
            guard !writes.isEmpty, state.keysByWriter[transactionID] == nil else { return false }
            state.keysByWriter[transactionID] = writes
            for key in writes { state.writersByKey[key, default: []].insert(transactionID) }
            state.reserved[transactionID] = end
            return true
        }
        guard reserved else { return }
        // Removes the ended reservation and wakes its waiters. Until this task runs (it may be
        // late on a busy machine), the reservation's end alone makes it count as finished.
        clock.schedule(after: lifetime) { [weak self] in
            guard let self, self.state.withLock({ $0.reserved[transactionID] != nil }) else { return }
            self.finished(transactionID)
        }
    }

    /// Forgets the pending writes of `transactionID` (it committed, or was not ordered) and wakes
    /// the tasks waiting for it.
    package func finished(_ transactionID: String) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if let keys = state.keysByWriter.removeValue(forKey: transactionID) {
                for key in keys {
                    state.writersByKey[key]?.remove(transactionID)
                    if state.writersByKey[key]?.isEmpty == true { state.writersByKey[key] = nil }
                }
            }
            state.reserved[transactionID] = nil
            return state.waiters.removeValue(forKey: transactionID) ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once `transactionID` is no longer pending (at once when it is not).
    package func waitUntilFinished(_ transactionID: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = clock.elapsed
            let pending = state.withLock { state -> Bool in
                guard state.isPending(transactionID, at: now) else { return false }
                state.waiters[transactionID, default: []].append(continuation)
                return true
            }
            if !pending { continuation.resume() }
        }
    }

    private static func id(_ namespace: String, _ key: String) -> String { namespace + "\u{0}" + key }
}
