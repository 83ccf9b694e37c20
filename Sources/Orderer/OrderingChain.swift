import LedgerWire

/// The ordering service of one channel, as the Broadcast and Deliver services drive it, whatever
/// the consensus behind it (`SoloChain`, `EtcdChain`).
package protocol OrderingChain: Sendable {
    /// The name channels give this consensus type in their configuration (`ConsensusType`).
    static var consensusType: String { get }

    /// Who may write and read the channel, and how its blocks are cut, as of the last config
    /// block this orderer stored.
    var settings: ChannelOrderingSettings { get async }

    /// Blocks this orderer holds (and serves through Deliver).
    var height: UInt64 { get async }

    /// Validates one envelope and gives it its place in the order; returns once it has one (or
    /// its refusal), with the receipt of its outcome. SUCCESS means that the envelope's block is
    /// durably accepted by consensus (fsynced by a solo orderer, appended to the replicated log by
    /// an etcd leader); any other status says why not. Envelopes submitted one after another are
    /// ordered in that order.
    func submit(_ envelope: Common_Envelope) async -> BroadcastReceipt

    /// Block `number`; with `wait`, waits until this orderer holds it (or the task is cancelled,
    /// or the chain stops serving: then `OrdererError.unavailable`), otherwise nil when it does not
    /// hold it yet.
    func block(_ number: UInt64, wait: Bool) async throws -> Common_Block?

    /// Releases every reader waiting for a block; later waits fail at once. Called on shutdown so
    /// open Deliver streams end and the server can stop.
    func stopServing() async

    /// Runs the chain's own work beside the server (the etcd chain's election and log following)
    /// until the task is cancelled; a solo chain has none.
    func run() async
}

extension OrderingChain {
    package func run() async {}

    /// Validates and orders one envelope; its outcome once known.
    package func broadcast(_ envelope: Common_Envelope) async -> BroadcastOutcome {
        await submit(envelope).outcome
    }
}
