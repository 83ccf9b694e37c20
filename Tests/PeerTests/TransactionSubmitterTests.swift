import Foundation
import GRPCCore
import LedgerCore
import LedgerWire
import Logging
import Synchronization
import Testing
@testable import Committer
@testable import GatewayService
@testable import NodeClients
@testable import PeerDaemon
@testable import PhiService


/// The gateway's submission when the orderer cannot confirm it ordered a transaction: it follows
/// the txid until the transaction commits or a deadline passes, resending the envelope meanwhile.
/// The ledger and the orderer are in-memory stand-ins behind the seams the submitter uses (the
/// commit notifier's lookup, `EnvelopeBroadcaster`); the leader-kill run over real processes is
/// measured with `medrex bench` (docs/ARCHITECTURE.md).
struct TransactionSubmitterTests {
    /// A ledger of committed transactions; committing wakes the notifier's waiters.
    final class Ledger: Sendable {
        final class Committed: Sendable {
            let outcomes = Mutex<[String: CommitOutcome]>([:])
        }
        let committed = Committed()
        let notifier: CommitNotifier
        init(clock: any LedgerClock = SystemClock()) {
            let committed = self.committed
            notifier = CommitNotifier(lookup: { txID in committed.outcomes.withLock { $0[txID] } }, clock: clock)
        }
        func commit(_ txID: String, block: UInt64, code: Protos_TxValidationCode = .valid) {
            committed.outcomes.withLock { $0[txID] = $0[txID] ?? CommitOutcome(blockNumber: block, validationCode: code) }
            notifier.committed(blockNumber: block, transactions: [(txID, code)])
        }
    }

    /// An orderer that answers each send from a script (the last entry repeats) and may commit the
    /// transaction in the ledger shortly after, as a real orderer and peer would.
    final class ScriptedOrderer: EnvelopeBroadcaster {
        enum Reply: Sendable {
            case answer(Common_Status, String, commitsAfter: Duration?)
            case lost(commitsAfter: Duration?)
            case notSent
        }

        let ledger: Ledger
        let transactionID: String
        let script: Mutex<[Reply]>
        let sends = Atomic<Int>(0)

        init(ledger: Ledger, transactionID: String, _ script: [Reply]) {
            self.ledger = ledger
            self.transactionID = transactionID
            self.script = Mutex(script)
        }

        func broadcast(_ envelope: Common_Envelope) async throws -> Orderer_BroadcastResponse {
            sends.add(1, ordering: .relaxed)
            let reply = script.withLock { $0.count > 1 ? $0.removeFirst() : $0[0] }
            func commit(after delay: Duration?) {
                guard let delay else { return }
                let (ledger, txID) = (ledger, transactionID)
                Task {
                    try? await Task.sleep(for: delay)
                    ledger.commit(txID, block: 7)
                }
            }
            switch reply {
            case .answer(let status, let info, let delay):
                commit(after: delay)
                var answer = Orderer_BroadcastResponse()
                answer.status = status
                answer.info = info
                return answer
            case .lost(let delay):
                commit(after: delay)
                throw OrderingOutcomeUnknown("the broadcast stream failed before the orderer answered: the envelope \(OrderingOutcomeUnknown.marker)")
            case .notSent:
                throw RPCError(code: .unavailable, message: "the broadcaster has stopped")
            }
        }
    }

    static let txID = "tx-unconfirmed"
    static let unknownAnswer = "the leader o1 did not answer: the envelope \(OrderingOutcomeUnknown.marker)"

    /// The follow deadline is long by default: tests that expect a commit end at the commit, and
    /// a parallel test run can hold this process's tasks back for many seconds.
    static func submitter(
        _ orderer: ScriptedOrderer, followTime: Duration = .seconds(120), resendInterval: Duration = .milliseconds(150),
        clock: any LedgerClock = SystemClock()
    ) -> TransactionSubmitter {
        TransactionSubmitter(
            broadcaster: orderer, notifier: orderer.ledger.notifier, followTime: followTime, resendInterval: resendInterval, clock: clock,
            logger: Logger(label: "submitter-test"))
    }

    @Test func successIsOrderedWithOneSend() async throws {
        let orderer = ScriptedOrderer(ledger: Ledger(), transactionID: Self.txID, [.answer(.success, "", commitsAfter: nil)])
        let submission = try await Self.submitter(orderer).submit(Common_Envelope(), transactionID: Self.txID)
        #expect(submission == .ordered)
        #expect(orderer.sends.load(ordering: .relaxed) == 1)
    }

    @Test func refusalsAreNotFollowed() async throws {
        let refused = ScriptedOrderer(ledger: Ledger(), transactionID: Self.txID, [.answer(.badRequest, "malformed", commitsAfter: nil)])
        var error = await #expect(throws: SubmissionError.self) { _ = try await Self.submitter(refused).submit(Common_Envelope(), transactionID: Self.txID) }
        #expect(error?.code == .refused)
        #expect(refused.sends.load(ordering: .relaxed) == 1)

        // No leader: definitely not ordered, so the client hears at once and may retry.
        let noLeader = ScriptedOrderer(ledger: Ledger(), transactionID: Self.txID, [.answer(.serviceUnavailable, "no leader; try again", commitsAfter: nil)])
        error = await #expect(throws: SubmissionError.self) { _ = try await Self.submitter(noLeader).submit(Common_Envelope(), transactionID: Self.txID) }
        #expect(error?.code == .orderingUnavailable && error?.reason.contains("no leader") == true)
        #expect(noLeader.sends.load(ordering: .relaxed) == 1)

        let notSent = ScriptedOrderer(ledger: Ledger(), transactionID: Self.txID, [.notSent])
        error = await #expect(throws: SubmissionError.self) { _ = try await Self.submitter(notSent).submit(Common_Envelope(), transactionID: Self.txID) }
        #expect(error?.code == .orderingUnavailable)
        #expect(notSent.sends.load(ordering: .relaxed) == 1)
    }

    @Test func aLostAnswerIsFollowedToItsCommit() async throws {
        // The envelope was ordered; only the answer was lost. No second copy is needed.
        let orderer = ScriptedOrderer(ledger: Ledger(), transactionID: Self.txID, [.lost(commitsAfter: .milliseconds(50)), .answer(.success, "", commitsAfter: nil)])
        let submission = try await Self.submitter(orderer, resendInterval: .seconds(60)).submit(Common_Envelope(), transactionID: Self.txID)
        #expect(submission == .committed(CommitOutcome(blockNumber: 7, validationCode: .valid)))
        #expect(orderer.sends.load(ordering: .relaxed) == 1)
    }

    @Test func anEnvelopeThatMayNotHaveBeenOrderedIsSentAgainUntilItCommits() async throws {
        // The leader died holding it (never ordered); the first resend meets no leader yet; the second is ordered.
        let orderer = ScriptedOrderer(
            ledger: Ledger(), transactionID: Self.txID,
            [
                .answer(.serviceUnavailable, Self.unknownAnswer, commitsAfter: nil),
                .answer(.serviceUnavailable, "no leader; try again", commitsAfter: nil),
                .answer(.success, "", commitsAfter: .milliseconds(20)),
            ])
        let submission = try await Self.submitter(orderer).submit(Common_Envelope(), transactionID: Self.txID)
        #expect(submission == .committed(CommitOutcome(blockNumber: 7, validationCode: .valid)))
        // At least the three scripted answers (more if the commit's task ran late).
        #expect(orderer.sends.load(ordering: .relaxed) >= 3)
    }

    @Test func aTransactionAlreadyCommittedIsReportedWithoutResending() async throws {
        let ledger = Ledger()
        ledger.commit(Self.txID, block: 3, code: .mvccReadConflict)
        let orderer = ScriptedOrderer(ledger: ledger, transactionID: Self.txID, [.answer(.serviceUnavailable, Self.unknownAnswer, commitsAfter: nil)])
        let submission = try await Self.submitter(orderer).submit(Common_Envelope(), transactionID: Self.txID)
        // The real outcome, invalid included.
        #expect(submission == .committed(CommitOutcome(blockNumber: 3, validationCode: .mvccReadConflict)))
        #expect(orderer.sends.load(ordering: .relaxed) == 1)
    }

    /// The production deadline (30 s, resends every 5 s) on the manual clock: the call ends with
    /// "unknown" once 30 s have passed, and not before; the envelope was sent again meanwhile.
    @Test func anOutcomeThatStaysUnknownIsReportedAsUnknownAfterTheDeadline() async throws {
        let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
        let orderer = ScriptedOrderer(ledger: Ledger(clock: clock), transactionID: Self.txID, [.lost(commitsAfter: nil)])
        let submitter = Self.submitter(orderer, followTime: .seconds(30), resendInterval: .seconds(5), clock: clock)
        let call = Task { try await submitter.submit(Common_Envelope(), transactionID: Self.txID) }
        // Step through the 30 s, letting the follow's tasks register their waits at each step.
        var advanced = Duration.zero
        while advanced < .seconds(29) {
            while clock.pendingCount < 2 { await Task.yield() }
            await clock.advance(by: .milliseconds(500))
            advanced += .milliseconds(500)
            for _ in 0..<20 { await Task.yield() }
        }
        #expect(orderer.sends.load(ordering: .relaxed) >= 2, "sent again during the follow")
        await clock.advance(by: .seconds(2))
        let result = await call.result
        let error = #expect(throws: SubmissionError.self) { try result.get() }
        #expect(error?.code == .outcomeUnknown)
        #expect(error?.reason.contains("outcome of transaction \(Self.txID) is unknown") == true)
    }

    @Test func aStoppingPeerEndsTheFollow() async throws {
        let ledger = Ledger()
        let orderer = ScriptedOrderer(ledger: ledger, transactionID: Self.txID, [.lost(commitsAfter: nil)])
        ledger.notifier.stop()
        let error = await #expect(throws: SubmissionError.self) { _ = try await Self.submitter(orderer).submit(Common_Envelope(), transactionID: Self.txID) }
        #expect(error?.code == .peerStopping && error?.reason.contains("stopped") == true)
        #expect(orderer.sends.load(ordering: .relaxed) == 1)
    }

    /// A client that stops waiting (Fabric's clients give Submit 5 s) does not stop the follow:
    /// the envelope is still sent again, commits, and CommitStatus finds it.
    /// The gateway's service adapters turn submission errors into gRPC statuses (the only place
    /// where status codes appear), keeping the reason as the message.
    @Test func submissionErrorsBecomeGRPCStatusesInTheAdapter() {
        let cases: [(SubmissionErrorCode, RPCError.Code)] = [
            (.orderingUnavailable, .unavailable), (.refused, .aborted), (.outcomeUnknown, .unavailable), (.peerStopping, .unavailable),
            (.stoppedWaiting, .cancelled),
        ]
        for (code, status) in cases {
            let mapped = RPCError(gatewayError: SubmissionError(code, "reason of \(code)"))
            #expect(mapped.code == status)
            #expect(mapped.message == "reason of \(code)")
        }
    }

    @Test func theFollowOutlivesAClientThatGivesUp() async throws {
        let ledger = Ledger()
        let orderer = ScriptedOrderer(
            ledger: ledger, transactionID: Self.txID,
            [.answer(.serviceUnavailable, Self.unknownAnswer, commitsAfter: nil), .answer(.success, "", commitsAfter: .milliseconds(10))])
        let submitter = Self.submitter(orderer)
        let call = Task { try await submitter.submit(Common_Envelope(), transactionID: Self.txID) }
        try await Task.sleep(for: .milliseconds(50))
        call.cancel()
        let result = await call.result
        #expect(throws: SubmissionError.self) { try result.get() }
        let outcome = try await ledger.notifier.outcome(of: Self.txID, within: .seconds(120))
        #expect(outcome == CommitOutcome(blockNumber: 7, validationCode: .valid))
        #expect(orderer.sends.load(ordering: .relaxed) >= 2)
    }

    @Test func waitingForAnOutcomeWithinATimeout() async throws {
        let ledger = Ledger()
        let none = try await ledger.notifier.outcome(of: "never", within: .milliseconds(50))
        #expect(none == nil)
        Task {
            try? await Task.sleep(for: .milliseconds(30))
            ledger.commit("later", block: 9)
        }
        let later = try await ledger.notifier.outcome(of: "later", within: .seconds(10))
        #expect(later == CommitOutcome(blockNumber: 9, validationCode: .valid))
    }
}
