import EtcdClient
import Foundation
import Logging

extension EtcdChain {
    /// Leader election until cancelled: looks at the leader key every `leaderPollInterval`; follows
    /// the orderer it names, or campaigns when it is absent, and leads while it holds the key.
    nonisolated func campaign() async {
        while !Task.isCancelled {
            do {
                if let lease = try await electionRound() { await lead(lease) }
            } catch {
                if Task.isCancelled { return }
                logger.warning("leader election: etcd call failed", metadata: ["channel": "\(keys.channel)", "error": "\(error)"])
            }
            do { try await clock.sleep(for: timing.leaderPollInterval) } catch { return }
        }
    }

    /// One look at the leader key: follows the orderer it names, or contends when it is absent.
    /// Returns the lease under which this orderer won the key (it then leads); nil otherwise.
    package nonisolated func electionRound() async throws -> Lease? {
        if let current = try await etcd.get(keys.leader) {
            let endpoint = String(decoding: current.value, as: UTF8.self)
            if endpoint == member, let lease = current.lease {
                // Left by an earlier run of this orderer (killed before its lease expired).
                logger.notice("the leader key still names this orderer from an earlier run; revoking its lease", metadata: ["channel": "\(keys.channel)"])
                try? await etcd.revokeLease(lease)
            } else {
                await follow(leader: endpoint)
            }
            return nil
        }
        await follow(leader: nil)
        guard await !cannotCatchUp else { return nil }
        return try await contend()
    }

    /// Tries to create the leader key under a new lease; the lease when that worked.
    private nonisolated func contend() async throws -> Lease? {
        let lease = try await etcd.grantLease(ttlSeconds: timing.leaseTTLSeconds)
        var won = try await etcd.createIfAbsent(keys.leader, Array(member.utf8), lease: lease.id)
        if !won, let current = try await etcd.get(keys.leader), current.lease == lease.id { won = true }
        guard won else {
            await Self.revokeDetached(lease.id, etcd: etcd)
            return nil
        }
        return lease
    }

    /// Leads while the lease is kept alive, the log accepts this orderer's blocks and the task is not
    /// cancelled; then steps down and revokes the lease so another orderer can take over at once.
    private nonisolated func lead(_ lease: Lease) async {
        let term = await beginTerm()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await self.etcd.keepAlive(lease)
                    throw CancellationError()
                }
                group.addTask { try await self.serveAsLeader(lease: lease.id, term: term) }
                defer { group.cancelAll() }
                _ = try await group.next()
            }
        } catch {
            if !Task.isCancelled {
                logger.warning("leadership ended", metadata: ["channel": "\(keys.channel)", "error": "\(error)"])
            }
        }
        await resign(lease: lease.id, term: term)
    }

    /// Ends leadership `term`: stops cutting and revokes its lease, so another orderer can take over at once.
    package nonisolated func resign(lease: LeaseID, term: UInt64) async {
        await stepDown(term: term)
        await Self.revokeDetached(lease, etcd: etcd)
    }

    /// Revokes a lease from a task of its own, so that it is tried even while the caller is being cancelled.
    private static func revokeDetached(_ lease: LeaseID, etcd: any EtcdKeyValueStore) async {
        await Task { try? await etcd.revokeLease(lease) }.value
    }

    /// Catches up to the log's height, starts cutting, and compacts the log now and then; returns
    /// when the term ended (an append was refused).
    private nonisolated func serveAsLeader(lease: LeaseID, term: UInt64) async throws {
        try await startLeading(lease: lease, term: term)
        var nextCompaction = clock.elapsed + timing.compactionInterval
        while await isLeading(term: term) {
            try await clock.sleep(for: .milliseconds(100))
            guard clock.elapsed >= nextCompaction else { continue }
            nextCompaction = clock.elapsed + timing.compactionInterval
            do {
                try await compactLog(lease: lease, term: term)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                logger.warning("compacting the etcd log failed", metadata: ["channel": "\(keys.channel)", "error": "\(error)"])
            }
        }
    }

    /// Catches up to the log's height, then starts cutting at the next height in `term`.
    package nonisolated func startLeading(lease: LeaseID, term: UInt64) async throws {
        try await catchUp()
        await becomeLeader(lease: lease, term: term)
    }

    /// Deletes the blocks below the lowest height every orderer recorded (keeping the newest block,
    /// which tells the log's height) and compacts etcd's history up to that deletion.
    package nonisolated func compactLog(lease: LeaseID, term: UInt64) async throws {
        guard let (logHeight, compactedBelow) = await compactionState(term: term), logHeight >= 1 else { return }
        let recorded = try await etcd.range(.prefix(keys.persistedPrefix))
        let heights = recorded.keyValues.compactMap { UInt64(String(decoding: $0.value, as: UTF8.self)) }
        guard let lowest = heights.min() else { return }
        let below = min(lowest, logHeight - 1)
        guard below > compactedBelow else { return }
        let result = try await etcd.transaction(
            compare: [Comparison(key: keys.leader, .equal, .lease(lease))],
            success: [.delete(.interval(from: keys.block(0), to: keys.block(below)))])
        guard result.succeeded else { return }
        do {
            try await etcd.compact(revision: result.revision)
        } catch let error as EtcdError where error.code == .compacted {
            // Compacted already (by an attempt that failed over, or a previous leader).
        }
        await compacted(below: below, term: term)
        logger.info("compacted the etcd log", metadata: ["channel": "\(keys.channel)", "blocks below": "\(below)", "revision": "\(result.revision)"])
    }

    /// The log's height as this leader knows it, and how far it compacted; nil when not leading in `term`.
    func compactionState(term: UInt64) -> (logHeight: UInt64, compactedBelow: UInt64)? {
        guard let current = leadership, current.term == term else { return nil }
        return (current.nextNumber, current.compactedBelow)
    }

    func compacted(below: UInt64, term: UInt64) {
        guard leadership?.term == term else { return }
        leadership!.compactedBelow = max(leadership!.compactedBelow, below)
    }
}
