import GRPCCore

/// One call the fuzzer makes: the messages it writes to `method` on `target`, and how it ends
/// the call. Every call goes out as a bidirectional stream, so that a unary method can also get
/// no message or several.
package struct FuzzRequest: Sendable {
    package enum Ending: String, Sendable, CaseIterable {
        /// Writes every message, closes its side, reads every answer.
        case complete
        /// Writes the messages and cancels the call instead of closing its side.
        case cancelWhileSending = "cancel-while-sending"
        /// Writes and closes, then cancels without reading any answer.
        case cancelBeforeResponse = "cancel-before-response"
    }

    package let sequence: Int
    package let target: String
    package let method: FuzzedMethod
    package let messages: [[UInt8]]
    package let ending: Ending

    package init(sequence: Int, target: String, method: FuzzedMethod, messages: [[UInt8]], ending: Ending) {
        self.sequence = sequence
        self.target = target
        self.method = method
        self.messages = messages
        self.ending = ending
    }
}

/// The text form of requests, to replay them: a line per request, tab-separated
/// `sequence target package.Service/Method ending message-count hex,hex,...` (an empty message is
/// an empty hex string); lines starting with `#` are comments.
package enum FuzzRecording {
    package static func line(_ request: FuzzRequest) -> String {
        let messages = request.messages.map(hex).joined(separator: ",")
        return "\(request.sequence)\t\(request.target)\t\(request.method.name)\t\(request.ending.rawValue)\t\(request.messages.count)\t\(messages)"
    }

    /// The requests in `text`; methods are looked up in `methods` by name.
    package static func parse(_ text: String, methods: [FuzzedMethod] = FuzzedMethod.all) throws(NetworkFuzzError) -> [FuzzRequest] {
        var requests: [FuzzRequest] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() where !line.hasPrefix("#") {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard columns.count == 6, let sequence = Int(columns[0]), let count = Int(columns[4]), count >= 0 else {
                throw NetworkFuzzError(.malformedRecording, "line \(number + 1): expected 6 tab-separated columns")
            }
            guard let method = methods.first(where: { $0.name == columns[2] }) else {
                throw NetworkFuzzError(.malformedRecording, "line \(number + 1): unknown method \(columns[2])")
            }
            guard let ending = FuzzRequest.Ending(rawValue: String(columns[3])) else {
                throw NetworkFuzzError(.malformedRecording, "line \(number + 1): unknown ending \(columns[3])")
            }
            let hexMessages = count == 0 ? [] : columns[5].split(separator: ",", omittingEmptySubsequences: false)
            guard hexMessages.count == count else {
                throw NetworkFuzzError(.malformedRecording, "line \(number + 1): \(count) messages announced, \(hexMessages.count) found")
            }
            var messages: [[UInt8]] = []
            for hex in hexMessages {
                guard let bytes = bytes(hex: hex) else { throw NetworkFuzzError(.malformedRecording, "line \(number + 1): a message is not hex") }
                messages.append(bytes)
            }
            requests.append(FuzzRequest(sequence: sequence, target: String(columns[1]), method: method, messages: messages, ending: ending))
        }
        return requests
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func hex(_ bytes: [UInt8]) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func bytes(hex: Substring) -> [UInt8]? {
        let characters = Array(hex.utf8)
        guard characters.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count / 2)
        var index = 0
        while index < characters.count {
            guard let high = nibble(characters[index]), let low = nibble(characters[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
