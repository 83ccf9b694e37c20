import GRPCCore
import GRPCNIOTransportHTTP2

/// Sends one `FuzzRequest` over a client's connection and says how it ended.
struct RequestSender: Sendable {
    /// What a call came to: `ok`, a gRPC status code's name, or the fuzzer's own doing.
    enum Outcome: Hashable, Sendable, CustomStringConvertible {
        case ok
        case status(RPCError.Code)
        /// The fuzzer cancelled the call (an abandoned stream).
        case abandoned
        /// The fuzzer stopped reading a long answer (more than `responseMessagesMax` messages).
        case answerCutShort
        /// An error that is no gRPC status (the client could not even start the call).
        case clientError(String)

        var description: String {
            switch self {
            case .ok: "ok"
            case .status(let code): "\(code)"
            case .abandoned: "abandoned by the fuzzer"
            case .answerCutShort: "answer cut short by the fuzzer"
            case .clientError(let kind): "client error (\(kind))"
            }
        }

        /// The node refused the request with a status (not a timeout, not a cancellation).
        var isRefusal: Bool {
            guard case .status(let code) = self else { return false }
            return code != .deadlineExceeded && code != .cancelled
        }

        /// An outcome whose message the report shows (once per method): statuses a node sends
        /// when something failed on its side rather than for the request, and the client's own errors.
        var isWorthExplaining: Bool {
            switch self {
            case .status(let code): Self.explainedCodes.contains(code)
            case .clientError: true
            case .ok, .abandoned, .answerCutShort: false
            }
        }

        private static let explainedCodes: Set<RPCError.Code> = [.unknown, .internalError, .unavailable, .dataLoss, .resourceExhausted]
    }

    /// How a call ended, with the status message or error when there was one.
    struct Reply: Sendable {
        let outcome: Outcome
        let detail: String?
    }

    private struct AbandonedByFuzzer: Error {}

    /// The statuses a call the fuzzer cancelled while sending ends with.
    private static let abandonmentCodes: Set<RPCError.Code> = [.cancelled, .unknown, .unavailable]

    /// Answers read before the fuzzer stops reading (a Deliver of a long range).
    static let responseMessagesMax = 64

    let client: GRPCClient<HTTP2ClientTransport.Posix>
    /// Each call's deadline: calls that wait for something that never comes (the commit status
    /// of an unknown transaction, a future block) end with `deadlineExceeded`.
    let callTimeout: Duration

    func send(_ request: FuzzRequest) async -> Reply {
        var options = CallOptions.defaults
        options.timeout = callTimeout
        options.waitForReady = false
        let messages = request.messages
        let ending = request.ending
        let stream = StreamingClientRequest<[UInt8]> { writer in
            for message in messages { try await writer.write(message) }
            if ending == .cancelWhileSending { throw AbandonedByFuzzer() }
        }
        do {
            let outcome: Outcome = try await client.bidirectionalStreaming(
                request: stream, descriptor: request.method.descriptor, serializer: RawBytesSerializer(), deserializer: RawBytesDeserializer(),
                options: options
            ) { response in
                if ending == .cancelBeforeResponse { return .abandoned }
                var count = 0
                for try await _ in response.messages {
                    count += 1
                    if count >= Self.responseMessagesMax { return .answerCutShort }
                }
                return .ok
            }
            return Reply(outcome: outcome, detail: nil)
        } catch let error as RPCError {
            // The fuzzer's own cancellation comes back as a status too: the client resets the
            // stream, and reports that as `unavailable` ("Stream unexpectedly closed").
            if ending == .cancelWhileSending && Self.abandonmentCodes.contains(error.code) { return Reply(outcome: .abandoned, detail: nil) }
            return Reply(outcome: .status(error.code), detail: error.message)
        } catch is AbandonedByFuzzer {
            return Reply(outcome: .abandoned, detail: nil)
        } catch {
            return Reply(outcome: .clientError("\(type(of: error))"), detail: "\(error)")
        }
    }
}
