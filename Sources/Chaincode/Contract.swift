import Foundation

/// A chaincode: named transaction functions registered with a `ContractRouter`.
///
///     struct AssetContract: Contract {
///         func register(_ router: inout ContractRouter) {
///             router.on("create") { context in
///                 try context.stub.putState(try context.string(0), Array(try context.string(1).utf8))
///                 return []
///             }
///         }
///     }
public protocol Contract: Sendable {
    func register(_ router: inout ContractRouter)
}

/// The arguments and stub of one call of a transaction function.
public struct TransactionContext {
    public let stub: ChaincodeStub
    /// The arguments after the function name.
    public let arguments: [[UInt8]]

    public init(stub: ChaincodeStub, arguments: [[UInt8]]) {
        self.stub = stub
        self.arguments = arguments
    }

    public var clientIdentity: ClientIdentity { stub.clientIdentity }

    public func bytes(_ index: Int) throws(ChaincodeError) -> [UInt8] {
        guard arguments.indices.contains(index) else {
            throw ChaincodeError(.invalidArgument, "expected at least \(index + 1) arguments, got \(arguments.count)")
        }
        return arguments[index]
    }

    /// Argument `index` as UTF-8 text.
    public func string(_ index: Int) throws(ChaincodeError) -> String {
        let value = try bytes(index)
        guard let text = String(validating: value, as: UTF8.self) else {
            throw ChaincodeError(.invalidArgument, "argument \(index) is not UTF-8 text")
        }
        return text
    }

    /// Argument `index` decoded from JSON.
    public func json<Value: Decodable>(_ index: Int, as type: Value.Type = Value.self) throws(ChaincodeError) -> Value {
        let value = try bytes(index)
        do {
            return try JSONDecoder().decode(Value.self, from: Data(value))
        } catch {
            throw ChaincodeError(.invalidArgument, "argument \(index) is not a JSON \(Value.self)")
        }
    }
}

/// Transaction functions by name.
public struct ContractRouter {
    public typealias Function = (TransactionContext) throws -> [UInt8]

    private(set) var functions: [String: Function] = [:]

    public init() {}

    /// Registers `name`; the function returns the response payload.
    public mutating func on(_ name: String, _ function: @escaping Function) {
        precondition(functions[name] == nil, "transaction function '\(name)' is registered twice")
        functions[name] = function
    }

    /// Registers `name` with a JSON-encoded result.
    public mutating func on<Result: Encodable>(_ name: String, returningJSON function: @escaping (TransactionContext) throws -> Result) {
        on(name) { context in
            let result = try function(context)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return Array(try encoder.encode(result))
        }
    }

    public var functionNames: [String] { functions.keys.sorted() }

    /// Calls `arguments[0]` with the rest. An unknown function or any error thrown becomes a
    /// status 500 response with the error's message; a `ChaincodeError` keeps its own message.
    public func call(_ arguments: [[UInt8]], stub: ChaincodeStub) -> ChaincodeResponse {
        guard let first = arguments.first, let name = String(validating: first, as: UTF8.self) else {
            return ChaincodeResponse(status: 400, message: "no transaction function named in the first argument")
        }
        guard let function = functions[name] else {
            return ChaincodeResponse(status: 400, message: "unknown transaction function '\(name)'; known: \(functionNames.joined(separator: ", "))")
        }
        do {
            return ChaincodeResponse(status: 200, payload: try function(TransactionContext(stub: stub, arguments: Array(arguments.dropFirst()))))
        } catch let error as ChaincodeError {
            return ChaincodeResponse(status: error.code.status, message: error.message)
        } catch {
            return ChaincodeResponse(status: 500, message: "transaction function '\(name)' failed: \(type(of: error))")
        }
    }
}

extension Contract {
    /// The contract's router, with every function registered.
    public var router: ContractRouter {
        var router = ContractRouter()
        register(&router)
        return router
    }
}

extension ChaincodeError.Code {
    /// The response status a chaincode error becomes.
    public var status: Int32 {
        switch self {
        case .invalidKey, .invalidArgument: 400
        case .accessDenied: 403
        case .notFound: 404
        case .internalError: 500
        }
    }
}
