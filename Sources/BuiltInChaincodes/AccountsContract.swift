import Chaincode

/// `accounts`: integer balances moved between accounts, the `transfer` and `hot` workloads of
/// `medrex bench` (read-modify-write of two keys, so concurrent transfers on one account conflict).
///
/// - `open FIRST COUNT BALANCE`: creates accounts `acct-FIRST` ... `acct-(FIRST+COUNT-1)`.
/// - `transfer FROM TO AMOUNT`: moves AMOUNT (refused when FROM has less).
/// - `balance ACCOUNT`: the balance as decimal text.
package struct AccountsContract: Contract {
    package init() {}

    package static func key(_ index: Int) -> String { "acct-\(index)" }

    package func register(_ router: inout ContractRouter) {
        router.on("open") { context in
            let first = try Self.integer(context, 0)
            let count = try Self.integer(context, 1)
            let balance = try Self.integer(context, 2)
            guard count > 0, count <= 10_000 else { throw ChaincodeError(.invalidArgument, "COUNT must be 1...10000") }
            let (end, overflow) = first.addingReportingOverflow(count)
            guard !overflow else { throw ChaincodeError(.invalidArgument, "FIRST + COUNT must not exceed \(Int.max)") }
            for index in first..<end {
                try context.stub.putState(Self.key(index), Array(String(balance).utf8))
            }
            return []
        }
        router.on("transfer") { context in
            let from = try context.string(0)
            let to = try context.string(1)
            let amount = try Self.integer(context, 2)
            guard from != to else { throw ChaincodeError(.invalidArgument, "FROM and TO must differ") }
            let fromBalance = try Self.balance(context, from)
            let toBalance = try Self.balance(context, to)
            guard fromBalance >= amount else { throw ChaincodeError(.invalidArgument, "account \(from) has insufficient funds") }
            let (credited, overflow) = toBalance.addingReportingOverflow(amount)
            guard !overflow else { throw ChaincodeError(.invalidArgument, "account \(to) cannot hold more than \(Int.max)") }
            // fromBalance >= amount >= 0, so the difference cannot overflow.
            try context.stub.putState(from, Array(String(fromBalance - amount).utf8))
            try context.stub.putState(to, Array(String(credited).utf8))
            return []
        }
        router.on("balance") { context in
            Array(String(try Self.balance(context, try context.string(0))).utf8)
        }
    }

    private static func integer(_ context: TransactionContext, _ index: Int) throws -> Int {
        guard let value = Int(try context.string(index)), value >= 0 else {
            throw ChaincodeError(.invalidArgument, "argument \(index) must be a non-negative integer")
        }
        return value
    }

    private static func balance(_ context: TransactionContext, _ account: String) throws -> Int {
        guard let bytes = try context.stub.getState(account) else { throw ChaincodeError(.notFound, "account \(account) does not exist") }
        guard let value = Int(String(decoding: bytes, as: UTF8.self)) else { throw ChaincodeError(.internalError, "account \(account) holds no balance") }
        return value
    }
}
