import Chaincode

/// Checks of the identifiers the healthcare contracts accept. Only ids, hashes and codes reach the
/// chain, so each has a narrow alphabet and a length bound; an error names the argument, never
/// its value (which might be PHI typed into the wrong field).
enum HealthArguments {
    static let identifierBytesMax = 128
    static let personIDBytesMax = 256

    /// Record, order and device ids: 1...128 of [A-Za-z0-9._:-].
    static func identifier(_ value: String, _ name: String) throws(ChaincodeError) -> String {
        guard !value.isEmpty, value.utf8.count <= identifierBytesMax,
            value.utf8.allSatisfy({ isAlphanumeric($0) || "._:-".utf8.contains($0) })
        else {
            throw ChaincodeError(.invalidArgument, "\(name) must be 1 to \(identifierBytesMax) characters of A-Z a-z 0-9 . _ : -")
        }
        return value
    }

    /// An MSP id: 1...64 of [A-Za-z0-9._-].
    static func mspID(_ value: String, _ name: String) throws(ChaincodeError) -> String {
        guard !value.isEmpty, value.utf8.count <= 64, value.utf8.allSatisfy({ isAlphanumeric($0) || "._-".utf8.contains($0) }) else {
            throw ChaincodeError(.invalidArgument, "\(name) must be an MSP id (1 to 64 characters of A-Z a-z 0-9 . _ -)")
        }
        return value
    }

    /// A person id `<mspID>/<certificate CN>`: a valid MSP id, '/', and 1... printable ASCII
    /// characters (at most 256 bytes in all).
    static func personID(_ value: String, _ name: String) throws(ChaincodeError) -> String {
        let message = "\(name) must be a person id '<MSP id>/<certificate common name>' of printable ASCII, at most \(personIDBytesMax) bytes"
        guard value.utf8.count <= personIDBytesMax, let slash = value.firstIndex(of: "/") else {
            throw ChaincodeError(.invalidArgument, message)
        }
        let msp = value[..<slash]
        let name = value[value.index(after: slash)...]
        guard !msp.isEmpty, !name.isEmpty, msp.utf8.allSatisfy({ isAlphanumeric($0) || "._-".utf8.contains($0) }),
            name.utf8.allSatisfy({ (0x20...0x7E).contains($0) })
        else { throw ChaincodeError(.invalidArgument, message) }
        return value
    }

    /// A short code (reason codes, actions, wards, specialties, algorithm ids): 1...64 characters
    /// of `alphabet` plus letters and digits.
    static func code(_ value: String, _ name: String, extra alphabet: String = "-", lowercaseOnly: Bool = false, bytesMin: Int = 1) throws(ChaincodeError) -> String {
        guard value.utf8.count >= bytesMin, value.utf8.count <= 64,
            value.utf8.allSatisfy({ byte in
                let letterOrDigit = lowercaseOnly ? isLowercaseOrDigit(byte) : isAlphanumeric(byte)
                return letterOrDigit || alphabet.utf8.contains(byte)
            })
        else {
            let letters = lowercaseOnly ? "a-z 0-9" : "A-Z a-z 0-9"
            throw ChaincodeError(.invalidArgument, "\(name) must be a code of \(bytesMin) to 64 characters of \(letters) \(alphabet.map(String.init).joined(separator: " "))")
        }
        return value
    }

    /// A SHA-256 digest: 64 lowercase hex digits.
    static func sha256(_ value: String, _ name: String) throws(ChaincodeError) -> String {
        guard value.utf8.count == 64, value.utf8.allSatisfy({ isLowercaseOrDigit($0) && $0 <= UInt8(ascii: "f") }) else {
            throw ChaincodeError(.invalidArgument, "\(name) must be a SHA-256 digest: 64 lowercase hex digits")
        }
        return value
    }

    /// An ISO-8601 time, returned in the fixed-width UTC form (see `HealthTime.parse`).
    static func time(_ value: String, _ name: String) throws(ChaincodeError) -> String {
        guard let normalized = HealthTime.normalize(value) else {
            throw ChaincodeError(.invalidArgument, "\(name) must be an ISO-8601 time such as 2026-09-22T07:30:00.000Z")
        }
        return normalized
    }

    /// A version argument: a decimal UInt32 of at least 1, or `latest` (nil) when allowed.
    static func version(_ value: String, _ name: String, allowLatest: Bool) throws(ChaincodeError) -> UInt32? {
        if allowLatest, value == "latest" { return nil }
        guard value.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), let version = UInt32(value), version >= 1 else {
            throw ChaincodeError(.invalidArgument, "\(name) must be an integer 1...\(UInt32.max)\(allowLatest ? " or 'latest'" : "")")
        }
        return version
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || isLowercaseOrDigit(byte)
    }

    private static func isLowercaseOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

extension TransactionContext {
    /// Refuses a call with more arguments than the function takes.
    func expectArguments(_ allowed: ClosedRange<Int>, usage: String) throws(ChaincodeError) {
        guard allowed.contains(arguments.count) else {
            throw ChaincodeError(.invalidArgument, "expected \(usage)")
        }
    }
}
