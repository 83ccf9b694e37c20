import Chaincode
import Foundation

/// The one JSON encoding of everything the healthcare contracts store or return: keys sorted,
/// no escaped slashes (person ids contain '/'), times already fixed-width strings, so the same
/// value always encodes to the same bytes.
public enum HealthCodec {
    public static func encode<Value: Encodable>(_ value: Value) throws(ChaincodeError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw ChaincodeError(.internalError, "cannot encode a \(Value.self)")
        }
    }

    /// Decodes a value this module stored; a failure means the state is corrupt (500).
    public static func decodeStored<Value: Decodable>(_ bytes: [UInt8], as type: Value.Type = Value.self) throws(ChaincodeError) -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch {
            throw ChaincodeError(.internalError, "stored \(Value.self) does not decode")
        }
    }

    /// Attribute `index` of a composite key this module stored; a shorter key means the state is
    /// corrupt (500), never an index out of range.
    static func storedKeyAttribute(_ stub: ChaincodeStub, _ key: String, at index: Int) throws -> String {
        let attributes = try stub.splitCompositeKey(key).attributes
        guard attributes.indices.contains(index) else { throw ChaincodeError(.internalError, "a stored composite key has too few attributes") }
        return attributes[index]
    }

    /// Decodes a value a caller sent; a failure is the caller's (400). The message names the
    /// missing or mistyped field, never a value.
    static func decodeArgument<Value: Decodable>(_ bytes: [UInt8], name: String, as type: Value.Type = Value.self) throws(ChaincodeError) -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            throw ChaincodeError(.invalidArgument, "\(name) is missing field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw ChaincodeError(.invalidArgument, "\(name) field '\(field(context))' has the wrong type")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw ChaincodeError(.invalidArgument, "\(name) field '\(field(context))' has a value out of range")
        } catch {
            throw ChaincodeError(.invalidArgument, "\(name) is not a well-formed JSON object (with numbers in range)")
        }
    }

    private static func field(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
    }
}

extension ContractRouter {
    /// Registers `name` with a result encoded by `HealthCodec`, so a response carries the same
    /// bytes the contract stores.
    mutating func on<Result: Encodable>(_ name: String, healthJSON function: @escaping (TransactionContext) throws -> Result) {
        on(name) { context in try HealthCodec.encode(try function(context)) }
    }
}

/// A response from a contract called with `invokeChaincode`, as a thrown error when it failed:
/// the callee's status class and message pass through.
extension ChaincodeResponse {
    func payloadOrThrow(callee: String) throws(ChaincodeError) -> [UInt8] {
        guard isSuccess else {
            let code: ChaincodeError.Code = switch status {
            case 404: .notFound
            case 403: .accessDenied
            case 400..<500: .invalidArgument
            default: .internalError
            }
            throw ChaincodeError(code, "\(callee): \(message)")
        }
        return payload
    }
}
