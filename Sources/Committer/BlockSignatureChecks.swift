import Crypto
import Endorser
import Foundation
import Identity
import Synchronization
import NodeClients

/// The signature checks of one block, each made once: the same identity's signature over the same
/// bytes at the same time (a replayed envelope, an endorsement repeated in a transaction) is
/// verified the first time and answered from memory after. Shared by the block's worker tasks.
///
/// An endorsement this peer signed itself (`OwnEndorsements`) is not verified again: only its
/// identity is validated at the transaction's time.
package final class BlockSignatureChecks: Sendable {
    private let membership: MembershipRegistry
    private let own: OwnEndorsements?
    private let results = Mutex<[SHA256Digest: ValidatedIdentity?]>([:])

    package init(membership: MembershipRegistry, own: OwnEndorsements? = nil) {
        self.membership = membership
        self.own = own
    }

    /// The signer when `signature` by `identity` over `message` verifies at `time`; nil otherwise.
    package func verify(signature: Data, over message: Data, by identity: Data, at time: Date) -> ValidatedIdentity? {
        var hasher = SHA256()
        for part in [identity, signature, message] {
            withUnsafeBytes(of: UInt64(part.count).bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: part)
        }
        withUnsafeBytes(of: time.timeIntervalSince1970.bitPattern.bigEndian) { hasher.update(bufferPointer: $0) }
        let key = hasher.finalize()
        if let known = results.withLock({ $0[key] }) { return known }
        let result: ValidatedIdentity?
        if let own, identity == own.identity, own.signatures.contains(signature: signature, over: message) {
            result = try? membership.validate(serializedIdentity: identity, at: time)
        } else {
            result = try? membership.verify(signature: signature, over: message, by: identity, at: time)
        }
        results.withLock { $0[key] = .some(result) }
        return result
    }
}

/// This peer's identity and the endorsement signatures it made (see `OwnSignatures`).
package struct OwnEndorsements: Sendable {
    package let identity: Data
    package let signatures: OwnSignatures

    package init(identity: some DataProtocol, signatures: OwnSignatures) {
        self.identity = Data(identity)
        self.signatures = signatures
    }
}
