import GRPCCore
import LedgerWire
import Synchronization

extension EtcdClient {
    /// The changes to the keys of `range`, in revision order, one batch per store revision (or more,
    /// for large ones). The stream ends when the consuming task is cancelled or stops iterating.
    ///
    /// - Parameter fromRevision: The first revision to report (inclusive), which may be in the past;
    ///   `nil` for changes after the watch is set up. A revision that was compacted away ends the stream
    ///   with `.compacted`, whose message names the oldest revision still kept.
    ///
    /// When the member serving the watch fails, the watch is set up again on another member from the
    /// revision after the last one delivered, so nothing is missed or repeated. It ends with
    /// `.unavailable` only when no member could take it over in `attemptsPerCall` tries in a row.
    package func watch(_ range: KeyRange, fromRevision: Int64?) -> AsyncThrowingStream<[WatchEvent], any Error> {
        let (events, continuation) = AsyncThrowingStream<[WatchEvent], any Error>.makeStream()
        let watcher = Task {
            do {
                try await self.runWatch(range, cursor: WatchCursor(next: fromRevision ?? 0), deliver: continuation)
                continuation.finish()
            } catch {
                continuation.finish(throwing: Task.isCancelled ? CancellationError() : error)
            }
        }
        continuation.onTermination = { _ in watcher.cancel() }
        return events
    }

    /// Runs watch streams, one member at a time, until cancelled or the watch fails for good.
    private func runWatch(
        _ range: KeyRange,
        cursor: WatchCursor,
        deliver: AsyncThrowingStream<[WatchEvent], any Error>.Continuation
    ) async throws {
        var failuresInARow = 0
        while true {
            try Task.checkCancellation()
            let connection = try await rotation.connection()
            let reason: String
            do {
                let request = Etcdserverpb_WatchRequest.create(range, fromRevision: cursor.next)
                try await Etcdserverpb_Watch.Client(wrapping: connection.client).watch(
                    metadata: Self.requireLeader,
                    options: Self.streamOptions,
                    requestProducer: { writer in
                        try await writer.write(request)
                        // Closing the request stream is harmless to etcd, but keep it open while the watch
                        // runs, so that the server never sees a half-closed stream.
                        while true { try await Task.sleep(for: .seconds(3600)) }
                    },
                    onResponse: { response in
                        for try await answer in response.messages {
                            try Self.handle(answer, range: range, cursor: cursor, deliver: deliver)
                        }
                    }
                )
                reason = "etcd ended the watch stream"
            } catch let error as RPCError {
                if Task.isCancelled { throw CancellationError() }
                guard error.code == .unavailable || error.code == .deadlineExceeded || error.code == .unknown else {
                    throw EtcdError(error, during: "watch")
                }
                reason = error.message
            } catch let error as RuntimeError where error.code == .clientIsStopped {
                guard await rotation.isRetired(connection) else { throw EtcdError(.closed, "watch: the etcd client was closed") }
                reason = "connection given up"
            }
            failuresInARow = cursor.takeCreated() ? 1 : failuresInARow + 1
            guard failuresInARow < configuration.attemptsPerCall else {
                throw EtcdError(.unavailable, "watch: no etcd member could serve it in \(failuresInARow) attempts; last: \(connection.endpoint): \(reason)")
            }
            logger.info("etcd watch interrupted; resuming on the next member", metadata: ["endpoint": "\(connection.endpoint)", "reason": "\(reason)", "from revision": "\(cursor.next)"])
            await rotation.failOver(from: connection, because: "watch: \(reason)")
            if failuresInARow % configuration.endpoints.count == 0 {
                try await Task.sleep(for: configuration.pauseBetweenRounds)
            }
        }
    }

    /// Acts on one message of a watch stream: delivers its events, or ends the watch when etcd cancelled it.
    private static func handle(
        _ answer: Etcdserverpb_WatchResponse,
        range: KeyRange,
        cursor: WatchCursor,
        deliver: AsyncThrowingStream<[WatchEvent], any Error>.Continuation
    ) throws {
        if answer.compactRevision > 0 {
            throw EtcdError(
                .compacted,
                "watch from revision \(cursor.next): history before revision \(answer.compactRevision) was compacted; watch from \(answer.compactRevision) or later"
            )
        }
        if answer.canceled {
            let reason = answer.cancelReason.isEmpty ? "no reason given" : answer.cancelReason
            throw EtcdError(.rejected, "etcd cancelled the watch: \(reason)")
        }
        if answer.created {
            cursor.created(atRevision: answer.header.revision)
        }
        guard !answer.events.isEmpty else { return }
        let events = try answer.events.map(WatchEvent.init)
        cursor.delivered(throughRevision: events.last!.modRevision)
        deliver.yield(events)
    }
}

/// Where a watch stands: the next revision to ask for if it must be set up again, and whether the
/// current stream was set up at all (so that a member that fails repeatedly is not retried forever).
private final class WatchCursor: Sendable {
    private struct Position {
        var next: Int64
        var createdSinceLastFailure = false
    }

    private let position: Mutex<Position>

    init(next: Int64) {
        position = Mutex(Position(next: next))
    }

    /// The first revision not yet delivered (0: whatever is current, before the first stream is set up).
    var next: Int64 { position.withLock { $0.next } }

    /// etcd set the watch up when the store was at `revision`.
    func created(atRevision revision: Int64) {
        position.withLock {
            $0.createdSinceLastFailure = true
            // A watch "from now" must resume after the revision it started at, not from a later "now".
            if $0.next == 0 { $0.next = min(revision, Int64.max - 1) + 1 }  // a revision from etcd: saturate, never trap
        }
    }

    func delivered(throughRevision revision: Int64) {
        position.withLock { $0.next = max($0.next, min(revision, Int64.max - 1) + 1) }
    }

    /// Whether the stream that just ended had been set up; resets that for the next stream.
    func takeCreated() -> Bool {
        position.withLock { position in
            defer { position.createdSinceLastFailure = false }
            return position.createdSinceLastFailure
        }
    }
}

extension Etcdserverpb_WatchRequest {
    /// Sets up a watch of `range` from `fromRevision` (0: from now).
    static func create(_ range: KeyRange, fromRevision: Int64) -> Self {
        var create = Etcdserverpb_WatchCreateRequest()
        let bounds = range.wireBounds
        create.key = .init(bounds.key)
        create.rangeEnd = .init(bounds.rangeEnd)
        create.startRevision = fromRevision
        var request = Self()
        request.createRequest = create
        return request
    }
}
