import Foundation
import Synchronization

/// Identities an MSP has already validated, by their serialized bytes, with the period in which
/// every certificate of their chain is valid. Decoding and chain checks are most of the cost of
/// checking a signature; a block's transactions and a client's requests repeat the same few
/// identities. The MSP's CAs and CRLs never change during its life, so a cached identity stays
/// valid for every time inside its period; outside it, the MSP validates again (and refuses).
final class ValidatedIdentityCache: Sendable {
    struct Entry: Sendable {
        let identity: ValidatedIdentity
        let validFrom: Date
        let validUntil: Date
    }

    private let entries = Mutex<[Data: Entry]>([:])
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// The identity when cached and `time` is inside its chain's validity period.
    func identity(for bytes: Data, at time: Date) -> ValidatedIdentity? {
        guard let entry = entries.withLock({ $0[bytes] }), entry.validFrom <= time, time <= entry.validUntil else { return nil }
        return entry.identity
    }

    func insert(_ entry: Entry, for bytes: Data) {
        entries.withLock { entries in
            // A full cache starts over: simple, bounded, and rare (a channel has few identities).
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[bytes] = entry
        }
    }
}
