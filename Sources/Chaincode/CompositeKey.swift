/// Composite keys in Fabric's encoding: U+0000, the object type, U+0000, then each attribute
/// followed by U+0000. Keys built this way sort by object type, then attribute by attribute, so a
/// partial composite key (a prefix of the attributes) selects a contiguous range.
public enum CompositeKey {
    /// Separates the parts; also marks a key as composite (simple keys may not start with it).
    public static let separator: Character = "\u{0000}"
    /// The largest code point; Fabric reserves it as the upper bound of partial-key ranges.
    public static let maxCodePoint: Character = "\u{10FFFF}"

    /// Builds a composite key. Throws when the object type is empty or when any part contains
    /// U+0000 or U+10FFFF, which would make the key ambiguous.
    public static func make(objectType: String, attributes: [String]) throws(ChaincodeError) -> String {
        guard !objectType.isEmpty else {
            throw ChaincodeError(.invalidKey, "a composite key needs a non-empty object type")
        }
        try checkPart(objectType, name: "object type")
        var key = String(separator) + objectType + String(separator)
        for (index, attribute) in attributes.enumerated() {
            try checkPart(attribute, name: "attribute \(index)")
            key += attribute + String(separator)
        }
        return key
    }

    /// Splits a composite key into its object type and attributes. Throws for a simple key or a
    /// key that does not end with the separator.
    public static func split(_ key: String) throws(ChaincodeError) -> (objectType: String, attributes: [String]) {
        guard key.first == separator, key.last == separator, key.count >= 3 else {
            throw ChaincodeError(.invalidKey, "key is not a composite key")
        }
        let parts = key.dropFirst().dropLast().split(separator: separator, omittingEmptySubsequences: false).map(String.init)
        return (parts[0], Array(parts.dropFirst()))
    }

    /// True when `key` is in the composite-key namespace (starts with U+0000).
    public static func isComposite(_ key: String) -> Bool { key.utf8.first == 0 }

    /// Checks a simple (non-composite) key: non-empty and not starting with U+0000.
    public static func checkSimpleKey(_ key: String) throws(ChaincodeError) {
        guard !key.isEmpty else { throw ChaincodeError(.invalidKey, "key is empty") }
        guard !isComposite(key) else {
            throw ChaincodeError(.invalidKey, "a simple key may not start with U+0000 (reserved for composite keys)")
        }
    }

    /// Checks a key a contract writes: non-empty; a composite key must split cleanly.
    public static func checkKey(_ key: String) throws(ChaincodeError) {
        guard !key.isEmpty else { throw ChaincodeError(.invalidKey, "key is empty") }
        if isComposite(key) {
            let (objectType, attributes) = try split(key)
            _ = try make(objectType: objectType, attributes: attributes)
        } else {
            for scalar in key.unicodeScalars where scalar.value == 0x10FFFF {
                throw ChaincodeError(.invalidKey, "key contains U+10FFFF, which is reserved")
            }
        }
    }

    private static func checkPart(_ part: String, name: String) throws(ChaincodeError) {
        for scalar in part.unicodeScalars where scalar.value == 0 || scalar.value == 0x10FFFF {
            throw ChaincodeError(.invalidKey, "\(name) of a composite key contains U+\(String(scalar.value, radix: 16, uppercase: true)), which is reserved")
        }
    }
}
