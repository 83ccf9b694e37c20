import Crypto
import LedgerCore

/// A SHA-256 over every state entry of the given namespaces in key order (namespace, key,
/// version, metadata, value), to compare two states, e.g. the database and a replay of the blocks.
package enum StateDigest {
    package static let pageSize = 1000

    package static func compute(_ reader: any StateReader, namespaces: [String]) throws(StorageError) -> (digest: String, entries: Int) {
        var hasher = SHA256()
        var count = 0
        for namespace in namespaces.sorted() {
            var start = ""
            while true {
                let page = try reader.range(namespace: namespace, startKey: start, endKey: "", pageSize: pageSize)
                for entry in page.entries {
                    hasher.update(data: StateEncoding.bigEndian(UInt32(namespace.utf8.count)) + Array(namespace.utf8))
                    hasher.update(data: StateEncoding.bigEndian(UInt32(entry.key.utf8.count)) + Array(entry.key.utf8))
                    let encoded = try StateEncoding.encode(entry.value)
                    hasher.update(data: StateEncoding.bigEndian(UInt32(encoded.count)) + encoded)
                    count += 1
                }
                guard let bookmark = page.bookmark else { break }
                start = bookmark
            }
        }
        return (hasher.finalize().hexString, count)
    }
}
