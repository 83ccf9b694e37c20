import Foundation
import GRPCCore
import LedgerCore
import LedgerWire
import Logging
import Committer
import NodeClients

/// Why a submission failed; the gateway's service adapters map the codes to gRPC statuses.
package typealias SubmissionError = DomainError<SubmissionErrorCode>

/// The codes of `SubmissionError`.
package enum SubmissionErrorCode: String, DomainErrorCode {
    /// The ordering service could not take the transaction (no leader, not reachable): it was not
    /// ordered, and the client may send it again.
    case orderingUnavailable
    /// The orderer refused the transaction (malformed, forbidden, too large).
    case refused
    /// The orderer did not confirm it and it had not committed by the follow deadline: its outcome
    /// is unknown (CommitStatus tells later).
    case outcomeUnknown
    /// The peer stopped while following the transaction.
    case peerStopping
    /// The caller stopped waiting; the transaction is still followed.
    case stoppedWaiting
}

/// Sends a signed transaction to the ordering service for the gateway and says how it went.
///
/// When the orderer's answer is lost (the stream broke after the envelope was written) or the
/// orderer says the envelope "may or may not have been ordered" (its leader died while holding
/// it), the submitter follows the txid instead of failing: it waits for the transaction to commit
/// (commit notifications, then the ledger), sends the same envelope again every
/// `resendInterval` while it has not (a copy ordered twice is marked DUPLICATE_TXID the second
/// time and the ledger keeps the first), and reports the commit, or, after `followTime`, that the
/// outcome is still unknown.
package struct TransactionSubmitter: Sendable {
    /// How a submission ended when it did not fail.
    package enum Submission: Sendable, Equatable {
        /// The orderer answered SUCCESS: consensus has the envelope.
        case ordered
        /// The orderer's answer was lost, but the transaction has since committed.
        case committed(CommitOutcome)
    }

    package let broadcaster: any EnvelopeBroadcaster
    package let notifier: CommitNotifier
    package var followTime: Duration
    package var resendInterval: Duration
    /// Times the follow deadline (the notifier times each wait with its own clock).
    package let clock: any LedgerClock
    package let logger: Logger

    package init(
        broadcaster: any EnvelopeBroadcaster, notifier: CommitNotifier, followTime: Duration = Limits.unconfirmedSubmissionFollowTime,
        resendInterval: Duration = Limits.unconfirmedSubmissionResendInterval, clock: any LedgerClock = SystemClock(), logger: Logger
    ) {
        self.clock = clock
        self.broadcaster = broadcaster
        self.notifier = notifier
        self.followTime = followTime
        self.resendInterval = resendInterval
        self.logger = logger
    }

    /// Orders `envelope` (whose txid is `transactionID`). Throws a `SubmissionError`: the ordering
    /// service unavailable, the orderer's refusal, or the outcome still unknown at the deadline.
    package func submit(_ envelope: Common_Envelope, transactionID: String) async throws -> Submission {
        switch try await send(envelope) {
        case .answered(let answer) where answer.status == .success:
            return .ordered
        case .answered(let answer) where !OrderingOutcomeUnknown.isUnknown(answer):
            if answer.status == .serviceUnavailable {
                throw SubmissionError(.orderingUnavailable, "the ordering service is unavailable: \(answer.info)")
            }
            throw SubmissionError(.refused, "the orderer refused the transaction (\(answer.status)): \(answer.info)")
        case .answered(let answer):
            return try await follow(envelope, transactionID: transactionID, reason: answer.info)
        case .unknown(let reason):
            return try await follow(envelope, transactionID: transactionID, reason: reason)
        }
    }

    private enum Sent {
        case answered(Orderer_BroadcastResponse)
        case unknown(String)
    }

    private func send(_ envelope: Common_Envelope) async throws(SubmissionError) -> Sent {
        do {
            return .answered(try await broadcaster.broadcast(envelope))
        } catch let unknown as OrderingOutcomeUnknown {
            return .unknown(unknown.reason)
        } catch {
            throw SubmissionError(.orderingUnavailable, "the transaction could not be sent to the ordering service: \(error)")
        }
    }

    /// Waits for `transactionID` to commit, until `followTime` has passed. Meanwhile a task of its
    /// own sends the envelope again every `resendInterval` while it has not committed: that task
    /// outlives the client's call (a client that gives up early, as Fabric's clients do after 5 s,
    /// still finds the commit with CommitStatus) and ends at the same deadline.
    private func follow(_ envelope: Common_Envelope, transactionID: String, reason: String) async throws -> Submission {
        logger.info(
            "the orderer did not confirm a transaction; following it until it commits",
            metadata: ["txid": "\(transactionID)", "reason": "\(reason)", "followSeconds": "\(followTime.components.seconds)"])
        let deadline = clock.elapsed + followTime
        let resender = Task.detached { [self] in await resendUntilCommitted(envelope, transactionID: transactionID, until: deadline) }
        if let outcome = try await notifier.outcome(of: transactionID, within: followTime) {
            logger.info("an unconfirmed transaction committed", metadata: ["txid": "\(transactionID)", "block": "\(outcome.blockNumber)"])
            return .committed(outcome)
        }
        if notifier.isStopped {
            resender.cancel()
            throw SubmissionError(.peerStopping, "the peer stopped while following transaction \(transactionID), whose ordering was not confirmed")
        }
        if Task.isCancelled {
            throw SubmissionError(.stoppedWaiting, "stopped waiting for transaction \(transactionID), whose ordering was not confirmed; it is still being followed")
        }
        throw SubmissionError(
            .outcomeUnknown, "the outcome of transaction \(transactionID) is unknown: the ordering service did not confirm it (\(reason)) "
                + "and it had not committed after \(followTime.components.seconds) s; ask CommitStatus for it later")
    }

    /// Sends `envelope` again every `resendInterval` until the transaction commits, the peer stops,
    /// or `deadline` passes. A copy that meets no leader or is lost is simply sent again later.
    private func resendUntilCommitted(_ envelope: Common_Envelope, transactionID: String, until deadline: Duration) async {
        while !Task.isCancelled {
            let remaining = deadline - clock.elapsed
            guard remaining > .zero else { return }
            let committed = (try? await notifier.outcome(of: transactionID, within: min(remaining, resendInterval))) ?? nil
            guard committed == nil, !notifier.isStopped, !Task.isCancelled, clock.elapsed < deadline else { return }
            _ = try? await send(envelope)
        }
    }
}
