/// Byte layouts of the RocksDB state, history and savepoint entries.
enum StateEncoding {
    /// State key: namespace, 0x00, key (namespaces contain no 0x00, keys may).
    static func stateKey(namespace: String, key: String) -> [UInt8] {
        Array(namespace.utf8) + [0] + Array(key.utf8)
    }

    /// First byte string after every state key of `namespace`.
    static func namespaceEnd(_ namespace: String) -> [UInt8] { Array(namespace.utf8) + [1] }

    static func checkNamespace(_ namespace: String) throws(StorageError) {
        guard !namespace.isEmpty, !namespace.utf8.contains(0) else {
            throw StorageError(.invalidArgument, "namespace must be non-empty and contain no U+0000")
        }
    }

    /// History key: namespace, 0x00, key length (4 bytes), key, block (8), transaction (4); all
    /// big-endian, so a key's entries sort by version and never mix with another key's.
    static func historyPrefix(namespace: String, key: String) -> [UInt8] {
        let keyBytes = Array(key.utf8)
        return Array(namespace.utf8) + [0] + bigEndian(UInt32(keyBytes.count)) + keyBytes
    }

    static func historyKey(namespace: String, key: String, version: StateVersion) -> [UInt8] {
        historyPrefix(namespace: namespace, key: key) + bigEndian(version.blockNumber) + bigEndian(version.transactionNumber)
    }

    static func version(fromHistoryKey bytes: [UInt8]) -> StateVersion {
        let tail = bytes.suffix(12)
        return StateVersion(blockNumber: integer(tail.prefix(8)), transactionNumber: integer(tail.suffix(4)))
    }

    /// Value: block (8), transaction (4), metadata count (2), per entry name length (2), name,
    /// value length (4), value; then the value bytes.
    /// Metadata beyond the field widths (more than 65,535 entries, a name over 65,535 bytes, a
    /// value over 4 GiB) is refused with `.invalidArgument`, never truncated or trapped on;
    /// validation refuses such writes first (`BlockValidator.writeSetFailure`).
    static func encode(_ entry: VersionedValue) throws(StorageError) -> [UInt8] {
        guard let count = UInt16(exactly: entry.metadata.count) else {
            throw StorageError(.invalidArgument, "a key carries \(entry.metadata.count) metadata entries; at most \(UInt16.max) fit")
        }
        var bytes = bigEndian(entry.version.blockNumber) + bigEndian(entry.version.transactionNumber)
        bytes += bigEndian(count)
        for (name, value) in entry.metadata.sorted(by: { $0.key < $1.key }) {
            guard let nameLength = UInt16(exactly: name.utf8.count), let valueLength = UInt32(exactly: value.count) else {
                throw StorageError(.invalidArgument, "a metadata entry is too large to store")
            }
            bytes += bigEndian(nameLength) + Array(name.utf8)
            bytes += bigEndian(valueLength) + value
        }
        return bytes + entry.value
    }

    static func decode(_ bytes: [UInt8]) throws(StorageError) -> VersionedValue {
        var reader = ByteReader(bytes)
        guard let block: UInt64 = reader.integer(), let transaction: UInt32 = reader.integer(), let count: UInt16 = reader.integer() else {
            throw StorageError(.corruption, "state value is shorter than its header")
        }
        var metadata: [String: [UInt8]] = [:]
        for _ in 0..<count {
            guard let nameLength: UInt16 = reader.integer(), let name = reader.bytes(Int(nameLength)),
                let valueLength: UInt32 = reader.integer(), let value = reader.bytes(Int(valueLength))
            else { throw StorageError(.corruption, "state value metadata is truncated") }
            metadata[String(decoding: name, as: UTF8.self)] = value
        }
        return VersionedValue(value: reader.rest, version: StateVersion(blockNumber: block, transactionNumber: transaction), metadata: metadata)
    }

    static func bigEndian<Integer: FixedWidthInteger>(_ value: Integer) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    static func integer<Integer: FixedWidthInteger>(_ bytes: some Collection<UInt8>) -> Integer {
        bytes.reduce(0) { $0 << 8 | Integer($1) }
    }
}

/// Reads fixed-width big-endian fields from a byte array; nil when too short.
struct ByteReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func integer<Integer: FixedWidthInteger>() -> Integer? {
        guard let field = self.bytes(MemoryLayout<Integer>.size) else { return nil }
        return StateEncoding.integer(field)
    }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, offset + count <= bytes.count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    var rest: [UInt8] { Array(bytes[offset...]) }
}
