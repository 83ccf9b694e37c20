import Chaincode

/// `counters`: commutative counters (the SDK's delta writes, `ChaincodeStub.addToCounter`), the
/// `--delta-writes` variant of `medrex bench`'s `transfer` and `hot` workloads. Transactions that
/// add never conflict with each other, however hot the counter.
///
/// - `add NAME DELTA`: adds DELTA (a signed integer).
/// - `move FROM TO AMOUNT`: subtracts AMOUNT from FROM and adds it to TO; no balance is read, so
///   nothing is refused for lack of funds.
/// - `value NAME`: the value as decimal text.
/// - `compact NAME`: folds NAME's deltas into one; answers the value.
package struct CountersContract: Contract {
    package init() {}

    package func register(_ router: inout ContractRouter) {
        router.on("add") { context in
            try context.stub.addToCounter(try context.string(0), try Self.integer(context, 1))
            return []
        }
        router.on("move") { context in
            let from = try context.string(0)
            let to = try context.string(1)
            let amount = try Self.integer(context, 2)
            guard from != to else { throw ChaincodeError(.invalidArgument, "FROM and TO must differ") }
            guard amount >= 0 else { throw ChaincodeError(.invalidArgument, "AMOUNT must not be negative") }
            try context.stub.addToCounter(from, -amount)
            try context.stub.addToCounter(to, amount)
            return []
        }
        router.on("value") { context in
            Array(String(try context.stub.counterValue(try context.string(0))).utf8)
        }
        router.on("compact") { context in
            Array(String(try context.stub.compactCounter(try context.string(0))).utf8)
        }
    }

    private static func integer(_ context: TransactionContext, _ index: Int) throws -> Int64 {
        guard let value = Int64(try context.string(index)) else {
            throw ChaincodeError(.invalidArgument, "argument \(index) must be an integer")
        }
        return value
    }
}
