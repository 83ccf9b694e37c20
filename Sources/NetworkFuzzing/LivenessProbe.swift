import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LedgerWire
import RPCTransport

/// Whether a node still serves: its process is running, and on a new connection it answers a
/// well-formed request signed by the admin — block 0 of the channel, from a peer's Deliver
/// service (filtered) or an orderer's AtomicBroadcast.Deliver — with that block and a SUCCESS
/// status.
struct LivenessProbe: Sendable {
    let factory: ValidRequestFactory
    let tls: MutualTLS
    /// One attempt's deadline; a node fails after `attemptsMax` failed attempts in a row.
    let timeout: Duration
    static let attemptsMax = 3

    /// Nil when `target` serves; otherwise why not.
    func check(_ target: FuzzTarget) async -> String? {
        var problem: String?
        for attempt in 1...Self.attemptsMax {
            if let processID = target.processID, !Self.isRunning(processID) { return "process \(processID) is no longer running" }
            problem = await answersBlockZero(target)
            guard problem != nil else { return nil }
            if attempt < Self.attemptsMax { try? await Task.sleep(for: .milliseconds(500)) }
        }
        if let processID = target.processID, !Self.isRunning(processID) { return "process \(processID) is no longer running" }
        return "no good answer in \(Self.attemptsMax) attempts: \(problem ?? "")"
    }

    /// On Linux a process counts as running unless /proc says it is gone or a zombie; elsewhere
    /// when signal 0 reaches it.
    static func isRunning(_ processID: Int32) -> Bool {
        #if os(Linux)
        guard let stat = try? String(contentsOfFile: "/proc/\(processID)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].drop(while: { $0 == " " }).first
        return state != "Z" && state != "X"
        #else
        return kill(processID, 0) == 0
        #endif
    }

    private func answersBlockZero(_ target: FuzzTarget) async -> String? {
        do {
            let seek = try Common_Envelope(serializedBytes: try factory.seekEnvelope(
                start: 0, stop: 0, behavior: .blockUntilReady, now: Date(), nonce: (0..<24).map { _ in UInt8.random(in: 0...255) },
                by: factory.admin))
            var options = CallOptions.defaults
            options.timeout = timeout
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: target.address.host, port: target.address.port), transportSecurity: tls.clientSecurity)
            return try await withGRPCClient(transport: transport) { client in
                switch target.role {
                case .peer:
                    return try await Protos_Deliver.Client(wrapping: client).deliverFiltered(options: options) { writer in
                        try await writer.write(seek)
                    } onResponse: { response in
                        var blocks: [UInt64] = []
                        for try await message in response.messages {
                            switch message.type {
                            case .filteredBlock(let block): blocks.append(block.number)
                            case .status(let status): return Self.verdict(blocks: blocks, status: status)
                            default: continue
                            }
                        }
                        return "the stream ended without a status"
                    }
                case .orderer:
                    return try await Orderer_AtomicBroadcast.Client(wrapping: client).deliver(options: options) { writer in
                        try await writer.write(seek)
                    } onResponse: { response in
                        var blocks: [UInt64] = []
                        for try await message in response.messages {
                            switch message.type {
                            case .block(let block): blocks.append(block.header.number)
                            case .status(let status): return Self.verdict(blocks: blocks, status: status)
                            case .none: continue
                            }
                        }
                        return "the stream ended without a status"
                    }
                }
            }
        } catch {
            return "\(error)"
        }
    }

    private static func verdict(blocks: [UInt64], status: Common_Status) -> String? {
        blocks == [0] && status == .success ? nil : "Deliver of block 0 gave blocks \(blocks) and status \(status)"
    }
}
