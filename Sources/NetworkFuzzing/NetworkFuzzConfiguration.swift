import Foundation
import Identity
import RPCTransport

/// What to fuzz, as whom, and for how long. A run ends after `requestCountMax` requests or
/// `duration`, whichever comes first (at least one must be set), or at the first node failure.
package struct NetworkFuzzConfiguration: Sendable {
    package var targets: [FuzzTarget]
    /// The client's TLS certificate and key, and the TLS CAs of every node's organization.
    package var tls: MutualTLS
    /// Signs most valid requests (and their re-signed mutations): a client of the channel.
    package var signer: SigningIdentity
    /// An admin of an organization of the channel (a member of its `BlockReaders` policy, which
    /// ordinary clients are not): signs the liveness checks, half of the valid Deliver requests (so
    /// that the orderers' Deliver serves blocks instead of answering FORBIDDEN) and the PeerAdmin
    /// requests (accepted by its own organization's peers).
    package var admin: SigningIdentity
    package var channel: String
    /// A built-in chaincode defined on the channel (valid proposals invoke it).
    package var chaincode = "kv"
    /// Decides every choice of the run (printed in the report, to reproduce it).
    package var seed: UInt64
    package var requestCountMax: Int?
    package var duration: Duration?
    /// Requests between two liveness checks.
    package var batchSize = 50
    /// Calls in flight at once within a batch.
    package var concurrentCallsMax = 4
    package var callTimeout: Duration = .seconds(1)
    package var livenessTimeout: Duration = .seconds(15)
    /// `Fuzz/Seeds`; nil: valid messages and random bytes only.
    package var seedDirectory: URL?
    /// Where the requests of a batch after which a node failed are written.
    package var recordingDirectory: URL
    package var methods: [FuzzedMethod] = FuzzedMethod.all

    package init(
        targets: [FuzzTarget], tls: MutualTLS, signer: SigningIdentity, admin: SigningIdentity, channel: String, seed: UInt64, recordingDirectory: URL
    ) {
        self.targets = targets
        self.tls = tls
        self.signer = signer
        self.admin = admin
        self.channel = channel
        self.seed = seed
        self.recordingDirectory = recordingDirectory
    }

    func validate() throws(NetworkFuzzError) {
        guard !targets.isEmpty else { throw NetworkFuzzError(.invalidConfiguration, "no node to fuzz: give at least one peer or orderer") }
        guard requestCountMax != nil || duration != nil else {
            throw NetworkFuzzError(.invalidConfiguration, "no bound: give a number of requests, a duration, or both")
        }
        guard batchSize > 0, concurrentCallsMax > 0, (requestCountMax ?? 1) > 0 else {
            throw NetworkFuzzError(.invalidConfiguration, "the batch size, the calls in flight and the request count must be positive")
        }
        guard Set(targets.map(\.name)).count == targets.count else {
            throw NetworkFuzzError(.invalidConfiguration, "two nodes have the same name: \(targets.map(\.name))")
        }
    }
}
