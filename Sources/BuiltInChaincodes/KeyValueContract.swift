import Chaincode

/// `kv`: blind writes and reads of single keys, the `put` workload of `medrex bench`.
///
/// - `put KEY VALUE`: writes without reading (no MVCC read, so no conflicts).
/// - `get KEY`: the value, or 404.
package struct KeyValueContract: Contract {
    package init() {}

    package func register(_ router: inout ContractRouter) {
        router.on("put") { context in
            try context.stub.putState(try context.string(0), try context.bytes(1))
            return []
        }
        router.on("get") { context in
            let key = try context.string(0)
            guard let value = try context.stub.getState(key) else { throw ChaincodeError(.notFound, "key \(key) does not exist") }
            return value
        }
    }
}
