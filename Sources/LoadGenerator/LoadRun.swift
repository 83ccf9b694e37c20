import Endorser
import Foundation
import GRPCCore
import Identity
import LedgerWire
import RPCTransport
import Synchronization
import NodeClients

/// Drives a running network through one peer's gateway: `clients` concurrent clients, each
/// sending one transaction at a time, until `transactions` have been sent or `duration` has passed.
package struct LoadRun: Sendable {
    package enum API: String, Sendable, CaseIterable {
        /// `medrex.TransactionStream`: every client's transactions on one bidirectional stream.
        case stream
        /// Fabric's Gateway: Endorse, Submit and CommitStatus as unary calls on one connection.
        case unary
    }

    package var workload: Workload
    package var api: API
    package var clients: Int
    package var duration: Duration?
    package var transactions: Int?
    package var channel: String
    package var peer: NodeAddress
    package var tls: MutualTLS
    package var signer: SigningIdentity
    /// Called about once a second with a progress line.
    package var progress: (@Sendable (String) -> Void)?

    package init(
        workload: Workload, api: API, clients: Int, duration: Duration?, transactions: Int?, channel: String, peer: NodeAddress, tls: MutualTLS,
        signer: SigningIdentity, progress: (@Sendable (String) -> Void)? = nil
    ) {
        self.workload = workload
        self.api = api
        self.clients = clients
        self.duration = duration
        self.transactions = transactions
        self.channel = channel
        self.peer = peer
        self.tls = tls
        self.signer = signer
        self.progress = progress
    }

    /// Creates what the workload needs (its accounts) through the gateway, committed before
    /// timing starts. Refuses when a setup transaction is not committed VALID.
    package func prepare() async throws {
        let setup = workload.setup
        guard !setup.isEmpty else { return }
        try await GatewayClient.withConnection(host: peer.host, port: peer.port, tls: tls, signer: signer) { gateway in
            for arguments in setup {
                let txID = try await gateway.submit(channel: channel, chaincode: workload.chaincode, arguments: arguments)
                let status = try await gateway.commitStatus(channel: channel, transactionID: txID)
                guard status.result == .valid else {
                    throw RPCError(code: .aborted, message: "setup transaction \(arguments.prefix(3).joined(separator: " ")) committed as \(status.result.name)")
                }
            }
        }
    }

    package func run() async throws -> LoadReport {
        let cpuBefore = ProcessCPUSample.now()
        let start = ContinuousClock.now
        let recorder = LoadRecorder(start: start)
        let sequence = TransactionSequence(deadline: duration.map { start + $0 }, limit: transactions)
        let next: @Sendable () -> Int? = { sequence.next() }
        let work: @Sendable (any TransactionSender) async -> Void = { sender in
            await withTaskGroup(of: Void.self) { group in
                for client in 0..<clients {
                    group.addTask { await Self.client(client, sender: sender, workload: workload, channel: channel, signer: signer, recorder: recorder, next: next) }
                }
                if let progress {
                    group.addTask {
                        var tick = 1
                        while !Task.isCancelled {
                            try? await Task.sleep(until: start + .seconds(tick))
                            if Task.isCancelled { break }
                            progress(recorder.progress(elapsed: .now - start))
                            tick += 1
                        }
                    }
                }
                for _ in 0..<clients { await group.next() }
                group.cancelAll()
            }
        }
        switch api {
        case .stream:
            let sender = ReconnectingStreamSender()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await sender.keepOpen(peer: peer, tls: tls, signer: signer) }
                await work(sender)
                group.cancelAll()
            }
        case .unary:
            try await GatewayClient.withConnection(host: peer.host, port: peer.port, tls: tls, signer: signer) { gateway in
                await work(UnarySender(gateway: gateway))
            }
        }
        var report = recorder.report(workload: workload, api: api.rawValue, clients: clients, elapsed: .now - start)
        report.processCPU = ProcessCPUSample.now().usage(since: cpuBefore)
        return report
    }

    private static func client(
        _ client: Int, sender: any TransactionSender, workload: Workload, channel: String, signer: SigningIdentity, recorder: LoadRecorder,
        next: @Sendable () -> Int?
    ) async {
        var random = SystemRandomNumberGenerator()
        while let number = next() {
            let (arguments, keys) = workload.transaction(client: client, sequence: number, random: &random)
            let began = ContinuousClock.now
            recorder.submitted()
            do {
                let proposal = try ProposalFactory.make(channel: channel, chaincode: workload.chaincode, arguments: arguments, signer: signer, timestamp: Date())
                let outcome = try await sender.transact(channel: channel, proposal: proposal)
                recorder.committed(code: outcome.code, keys: keys, began: began, endorsed: outcome.endorsed, committed: outcome.committed)
            } catch let error as RPCError where error.code == .aborted && error.message.hasPrefix(GatewayClient.earlyAbortMessagePrefix) {
                recorder.abortedBeforeOrdering(keys: keys)
            } catch let error as RPCError {
                recorder.failed("\(error.code): \(error.message.prefix(120))")
            } catch {
                recorder.failed("\(error)".prefix(120).description)
            }
        }
    }
}

/// Hands out transaction numbers until the deadline passes or the limit is reached.
private final class TransactionSequence: Sendable {
    private let counter = Atomic<Int>(0)
    private let deadline: ContinuousClock.Instant?
    private let limit: Int?

    init(deadline: ContinuousClock.Instant?, limit: Int?) {
        self.deadline = deadline
        self.limit = limit
    }

    func next() -> Int? {
        if let deadline, ContinuousClock.now >= deadline { return nil }
        let number = counter.add(1, ordering: .relaxed).oldValue
        if let limit, number >= limit { return nil }
        return number
    }
}

/// One way of getting a proposal endorsed, ordered and committed.
protocol TransactionSender: Sendable {
    func transact(channel: String, proposal: Protos_SignedProposal) async throws -> TransactionStreamClient.Outcome
}

/// Transactions on one stream to the peer, opened again when it ends (the peer restarted or the
/// connection broke): the transactions in flight on the ended stream fail, later ones wait up to
/// `reconnectWaitMax` for the new stream.
final class ReconnectingStreamSender: TransactionSender, Sendable {
    static let reconnectPause = Duration.milliseconds(250)
    static let reconnectWaitMax = Duration.seconds(10)
    private let current = Mutex<TransactionStreamClient?>(nil)

    /// Keeps a stream open until the task is cancelled.
    func keepOpen(peer: NodeAddress, tls: MutualTLS, signer: SigningIdentity) async {
        while !Task.isCancelled {
            _ = try? await TransactionStreamClient.withStream(host: peer.host, port: peer.port, tls: tls, signer: signer) { stream in
                current.withLock { $0 = stream }
                while !stream.hasEnded { try await Task.sleep(for: .milliseconds(50)) }
            }
            current.withLock { $0 = nil }
            try? await Task.sleep(for: Self.reconnectPause)
        }
    }

    func transact(channel: String, proposal: Protos_SignedProposal) async throws -> TransactionStreamClient.Outcome {
        let deadline = ContinuousClock.now + Self.reconnectWaitMax
        while true {
            if let stream = current.withLock({ $0 }), !stream.hasEnded { return try await stream.transact(channel: channel, proposal: proposal) }
            guard ContinuousClock.now < deadline else { throw RPCError(code: .unavailable, message: "no stream to the peer: it did not come back within 10 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

struct UnarySender: TransactionSender {
    let gateway: GatewayClient

    func transact(channel: String, proposal: Protos_SignedProposal) async throws -> TransactionStreamClient.Outcome {
        let envelope = try await gateway.endorse(channel: channel, proposal: proposal)
        let endorsed = ContinuousClock.now
        try await gateway.submit(channel: channel, envelope: envelope)
        let status = try await gateway.commitStatus(channel: channel, transactionID: try GatewayClient.transactionID(of: proposal))
        return TransactionStreamClient.Outcome(
            transactionID: try GatewayClient.transactionID(of: proposal), code: status.result, blockNumber: status.blockNumber,
            endorsed: endorsed, committed: .now)
    }
}
