import GRPCCore
import GRPCNIOTransportHTTP2
import LedgerWire
import Synchronization

extension EtcdClient {
    /// Grants a lease that expires unless renewed within `ttlSeconds` (etcd may grant a longer TTL,
    /// never less than its minimum of a few seconds).
    package func grantLease(ttlSeconds: Int64) async throws -> Lease {
        guard ttlSeconds > 0 else { throw EtcdError(.invalidArgument, "a lease TTL must be positive, not \(ttlSeconds)") }
        var request = Etcdserverpb_LeaseGrantRequest()
        request.ttl = ttlSeconds
        let response = try await unary("grant lease") { client, options in
            try await Etcdserverpb_Lease.Client(wrapping: client).leaseGrant(request, metadata: Self.requireLeader, options: options)
        }
        guard response.error.isEmpty else { throw EtcdError(.rejected, "grant lease: \(response.error)") }
        guard response.id != 0, response.ttl > 0, response.ttl <= Lease.ttlSecondsMax else {
            throw EtcdError(.malformedResponse, "grant lease: etcd answered lease \(response.id) with TTL \(response.ttl)")
        }
        return Lease(id: LeaseID(response.id), ttlSeconds: response.ttl)
    }

    /// Revokes the lease: the keys attached to it are deleted at once. An unknown (or already expired)
    /// lease fails with `.leaseNotFound`.
    package func revokeLease(_ id: LeaseID) async throws {
        var request = Etcdserverpb_LeaseRevokeRequest()
        request.id = id.rawValue
        _ = try await unary("revoke lease") { client, options in
            try await Etcdserverpb_Lease.Client(wrapping: client).leaseRevoke(request, metadata: Self.requireLeader, options: options)
        }
    }

    /// Keeps `lease` alive by renewing it about three times per TTL, until the calling task is
    /// cancelled (then it returns) or the lease is lost (then it throws `.leaseExpired`).
    ///
    /// The lease counts as lost when etcd says it no longer exists, or when no renewal got through for
    /// a whole TTL (every member unreachable, or none with a leader): by then etcd has let it expire,
    /// or soon will, and whatever the lease stood for (leadership, say) must be given up. Renewals
    /// move to another member when theirs fails.
    package func keepAlive(_ lease: Lease) async throws {
        let state = KeepAliveState(ttlSeconds: lease.ttlSeconds)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await Self.expireWhenNotRenewed(lease, state) }
                group.addTask { try await self.renewUntilLost(lease, state) }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch let error as EtcdError where error.code == .leaseExpired {
            throw error
        } catch {
            if Task.isCancelled { return }
            throw error
        }
    }

    /// Throws `.leaseExpired` once a whole TTL has passed since the last renewal etcd confirmed.
    private static func expireWhenNotRenewed(_ lease: Lease, _ state: KeepAliveState) async throws {
        while true {
            let deadline = state.deadline
            if ContinuousClock.now >= deadline {
                throw EtcdError(.leaseExpired, "lease \(lease.id) was not renewed for its TTL of \(state.ttlSeconds) s; it must be taken as expired")
            }
            try await Task.sleep(until: deadline, clock: .continuous)
        }
    }

    /// Renews the lease on keep-alive streams, one member at a time, until etcd says the lease is gone.
    private func renewUntilLost(_ lease: Lease, _ state: KeepAliveState) async throws {
        while true {
            let connection = try await rotation.connection()
            let reason: String
            do {
                try await Etcdserverpb_Lease.Client(wrapping: connection.client).leaseKeepAlive(
                    metadata: Self.requireLeader,
                    options: Self.streamOptions,
                    requestProducer: { writer in
                        var request = Etcdserverpb_LeaseKeepAliveRequest()
                        request.id = lease.id.rawValue
                        state.streamStarted()
                        while true {
                            state.sent()
                            try await writer.write(request)
                            try await Task.sleep(for: state.renewalInterval)
                        }
                    },
                    onResponse: { response in
                        for try await answer in response.messages {
                            guard answer.ttl > 0 else {
                                throw EtcdError(.leaseExpired, "lease \(lease.id) has expired or was revoked (etcd renewed it with TTL \(answer.ttl))")
                            }
                            guard answer.ttl <= Lease.ttlSecondsMax else {
                                throw EtcdError(.malformedResponse, "lease \(lease.id) renewed with TTL \(answer.ttl) s, more than etcd grants")
                            }
                            state.renewed(ttlSeconds: answer.ttl)
                        }
                    }
                )
                reason = "the keep-alive stream ended"
            } catch let error as RPCError {
                if Task.isCancelled { throw CancellationError() }
                guard error.code == .unavailable || error.code == .deadlineExceeded || error.code == .unknown else {
                    throw EtcdError(error, during: "keep lease \(lease.id) alive")
                }
                reason = error.message
            } catch let error as RuntimeError where error.code == .clientIsStopped {
                guard await rotation.isRetired(connection) else { throw EtcdError(.closed, "keep lease \(lease.id) alive: the etcd client was closed") }
                reason = "connection given up"
            }
            await rotation.failOver(from: connection, because: "keep-alive of lease \(lease.id): \(reason)")
            try await Task.sleep(for: configuration.pauseBetweenRounds)
        }
    }
}

/// When a kept-alive lease was last renewed, shared by the renewing stream and the expiry watchdog.
private final class KeepAliveState: Sendable {
    private struct Renewals {
        var ttlSeconds: Int64
        /// When the lease must be taken as expired unless renewed again.
        var deadline: ContinuousClock.Instant
        /// When each renewal not yet answered was sent, oldest first (etcd answers them in order).
        var unanswered: [ContinuousClock.Instant] = []
    }

    private let renewals: Mutex<Renewals>

    init(ttlSeconds: Int64) {
        renewals = Mutex(Renewals(ttlSeconds: ttlSeconds, deadline: .now + .seconds(ttlSeconds)))
    }

    var ttlSeconds: Int64 { renewals.withLock { $0.ttlSeconds } }

    var deadline: ContinuousClock.Instant { renewals.withLock { $0.deadline } }

    /// About a third of the TTL, so that two renewals in a row can fail before the lease expires.
    var renewalInterval: Duration {
        max(.milliseconds(250), .seconds(ttlSeconds) / 3)
    }

    /// A new stream starts: answers to renewals sent on the old one will not come.
    func streamStarted() {
        renewals.withLock { $0.unanswered.removeAll() }
    }

    func sent() {
        renewals.withLock { $0.unanswered.append(.now) }
    }

    /// etcd renewed the lease for `ttlSeconds`, counted from no earlier than when the renewal was sent.
    func renewed(ttlSeconds: Int64) {
        renewals.withLock { state in
            let sentAt = state.unanswered.isEmpty ? ContinuousClock.now : state.unanswered.removeFirst()
            state.ttlSeconds = ttlSeconds
            state.deadline = sentAt + .seconds(ttlSeconds)
        }
    }
}
