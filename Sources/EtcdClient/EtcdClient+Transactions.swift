import GRPCCore
import LedgerWire

extension EtcdClient {
    /// Applies `success` atomically if every comparison holds, and `failure` otherwise.
    ///
    /// A key may be written at most once per transaction branch (etcd refuses the transaction otherwise).
    package func transaction(
        compare: [Comparison],
        success: [Operation],
        failure: [Operation]
    ) async throws -> TransactionResult {
        var request = Etcdserverpb_TxnRequest()
        request.compare = compare.map(\.wire)
        request.success = success.map(\.wire)
        request.failure = failure.map(\.wire)
        let response = try await unary("transaction") { client, options in
            try await Etcdserverpb_KV.Client(wrapping: client).txn(request, metadata: Self.requireLeader, options: options)
        }
        let results = try response.responses.map(OperationResult.init)
        let expected = response.succeeded ? success.count : failure.count
        guard results.count == expected else {
            throw EtcdError(.malformedResponse, "a transaction answered \(results.count) results for \(expected) operations")
        }
        return TransactionResult(succeeded: response.succeeded, revision: response.header.revision, results: results)
    }
}
