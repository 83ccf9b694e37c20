import GRPCCore
import RPCTransport
import Synchronization
import Committer
import NodeClients

/// The server side of Medrex's streamed APIs.
package enum StreamedCalls {
    /// Serves one bidirectional stream of independent requests: each is handled in a task of its
    /// own, at most `inFlightMax` at once (the stream stops reading until one finishes), and its
    /// answer is written as soon as it is ready, in whatever order they finish. When `shutdown`
    /// fires, it stops reading, answers what it has read, and ends the stream (the client sees it
    /// end and opens another, to another server if this one is gone).
    package static func serve<Request: Sendable, Answer: Sendable>(
        _ requests: RPCAsyncSequence<Request, any Error>, answers response: RPCWriter<Answer>, inFlightMax: Int,
        shutdown: ShutdownSignal? = nil, handle: @escaping @Sendable (Request) async -> Answer
    ) async throws {
        let (answers, outbox) = AsyncStream.makeStream(of: Answer.self)
        try await withThrowingTaskGroup(of: Void.self) { writers in
            writers.addTask {
                for await answer in answers { try await response.write(answer) }
            }
            defer { outbox.finish() }
            try await withThrowingTaskGroup(of: Void.self) { reading in
                reading.addTask {
                    try await withThrowingTaskGroup(of: Void.self) { handlers in
                        var inFlight = 0
                        for try await request in requests {
                            if inFlight >= inFlightMax {
                                try await handlers.next()
                                inFlight -= 1
                            }
                            inFlight += 1
                            // Not cancelled with the reading: a request read is answered.
                            handlers.addTask { outbox.yield(await Task { await handle(request) }.value) }
                        }
                        try await handlers.waitForAll()
                    }
                }
                if let shutdown {
                    reading.addTask { await shutdown.wait() }
                    defer { reading.cancelAll() }
                    try await reading.next()
                } else {
                    try await reading.waitForAll()
                }
            }
            outbox.finish()
            try await writers.waitForAll()
        }
    }
}
