/// An error a chaincode or the SDK raises: a code, and a message returned to the client. Messages
/// must not contain PHI: they end up in proposal responses and logs.
public struct ChaincodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case invalidKey
        case invalidArgument
        case notFound
        case accessDenied
        case internalError
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
