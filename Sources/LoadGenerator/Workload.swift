import BuiltInChaincodes

/// What `medrex bench` sends. Every workload uses a built-in chaincode, so any network whose
/// channel defines `kv` and `accounts` can be driven.
package enum Workload: Sendable, Hashable, CustomStringConvertible {
    /// Blind writes of distinct keys with 100-byte values (`kv put`): no reads, no conflicts.
    case put
    /// Transfers between two of `accounts` accounts chosen uniformly (`accounts transfer`).
    case transfer(accounts: Int)

    /// `put`, `transfer` (1,000 accounts unless given), `hot` (transfer over 10 accounts).
    package init?(name: String, accounts: Int?) {
        switch name {
        case "put": self = .put
        case "transfer": self = .transfer(accounts: accounts ?? 1_000)
        case "hot": self = .transfer(accounts: accounts ?? 10)
        default: return nil
        }
    }

    package var description: String {
        switch self {
        case .put: "put"
        case .transfer(let accounts): "transfer(\(accounts) accounts)"
        }
    }

    package var chaincode: String {
        switch self {
        case .put: "kv"
        case .transfer: "accounts"
        }
    }

    /// The transactions that create what the workload needs (its accounts), 1,000 per transaction.
    package var setup: [[String]] {
        guard case .transfer(let accounts) = self else { return [] }
        return stride(from: 0, to: accounts, by: 1_000).map { first in
            ["open", "\(first)", "\(min(1_000, accounts - first))", "1000000000"]
        }
    }

    /// The arguments of transaction `sequence` of client `client`, and the keys it touches.
    package func transaction(client: Int, sequence: Int, random: inout some RandomNumberGenerator) -> (arguments: [String], keys: [String]) {
        switch self {
        case .put:
            let key = "bench-\(client)-\(sequence)"
            return (["put", key, String(repeating: "v", count: 100)], [key])
        case .transfer(let accounts):
            let from = Int.random(in: 0..<accounts, using: &random)
            var to = Int.random(in: 0..<(accounts - 1), using: &random)
            if to >= from { to += 1 }
            let keys = [AccountsContract.key(from), AccountsContract.key(to)]
            return (["transfer", keys[0], keys[1], "1"], keys)
        }
    }
}
