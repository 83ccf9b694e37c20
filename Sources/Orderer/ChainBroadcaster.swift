import LedgerWire
import NodeClients

/// The in-process counterpart of `OrdererBroadcaster`: envelopes handed straight to an ordering
/// chain in the same process (tests, the simulation), answered as Broadcast would answer them.
/// Envelopes are ordered in the order `broadcast` is called.
package struct ChainBroadcaster: EnvelopeBroadcaster {
    private let chain: @Sendable () throws -> any OrderingChain

    /// `chain` gives the chain as of the call, or throws when the orderer is down (the envelope
    /// was not sent).
    package init(chain: @escaping @Sendable () throws -> any OrderingChain) { self.chain = chain }

    package func broadcast(_ envelope: Common_Envelope) async throws -> Orderer_BroadcastResponse {
        let outcome = await (try chain()).broadcast(envelope)
        var answer = Orderer_BroadcastResponse()
        answer.status = outcome.status
        answer.info = outcome.info
        return answer
    }
}
