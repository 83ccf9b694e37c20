import Crypto
import Foundation
import Synchronization

/// The endorsements this peer signed recently, remembered by a digest of signature and message, so
/// that validating a block does not verify again, with ECDSA, a signature this peer made itself.
/// A signature is known valid when this process produced it over exactly these bytes; anything
/// else (a signature not remembered, or one evicted) is verified as usual.
///
/// Holds at most `capacity` digests; the oldest is forgotten first.
package final class OwnSignatures: Sendable {
    /// About a minute of endorsements at a few thousand a second: far longer than a transaction
    /// takes from endorsement to validation. 32 bytes each.
    package static let defaultCapacity = 262_144

    private struct Memory {
        var digests: Set<SHA256Digest> = []
        var order: [SHA256Digest] = []
        var oldest = 0
    }

    package let capacity: Int
    private let memory = Mutex(Memory())

    package init(capacity: Int = OwnSignatures.defaultCapacity) {
        self.capacity = max(1, capacity)
    }

    /// Remembers that this peer made `signature` over `message`.
    package func record(signature: some DataProtocol, over message: some DataProtocol) {
        let digest = Self.digest(signature: signature, message: message)
        memory.withLock { memory in
            guard memory.digests.insert(digest).inserted else { return }
            if memory.order.count < capacity {
                memory.order.append(digest)
            } else {
                memory.digests.remove(memory.order[memory.oldest])
                memory.order[memory.oldest] = digest
                memory.oldest = (memory.oldest + 1) % capacity
            }
        }
    }

    /// Whether this peer made `signature` over `message` (and still remembers it).
    package func contains(signature: some DataProtocol, over message: some DataProtocol) -> Bool {
        let digest = Self.digest(signature: signature, message: message)
        return memory.withLock { $0.digests.contains(digest) }
    }

    private static func digest(signature: some DataProtocol, message: some DataProtocol) -> SHA256Digest {
        var hasher = SHA256()
        withUnsafeBytes(of: UInt64(signature.count).bigEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(data: signature)
        hasher.update(data: message)
        return hasher.finalize()
    }
}
