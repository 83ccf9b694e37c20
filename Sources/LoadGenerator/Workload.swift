import BuiltInChaincodes

/// What `medrex bench` sends. Every workload uses a built-in chaincode, so any network whose
/// channel defines `kv` and `accounts` can be driven.
package enum Workload: Sendable, Hashable, CustomStringConvertible {
    /// Blind writes of distinct keys with 100-byte values (`kv put`): no reads, no conflicts.
    case put
    /// Transfers between two of `accounts` accounts chosen uniformly (`accounts transfer`).
    case transfer(accounts: Int)
    /// The same transfers as commutative delta writes (`counters move`): no balance is read, so
    /// transfers on the same account do not conflict (and no overdraft is refused).
    case deltaTransfer(accounts: Int)

    /// `put`, `transfer` (1,000 accounts unless given), `hot` (transfer over 10 accounts); with
    /// `deltaWrites`, transfer and hot move amounts as delta writes.
    package init?(name: String, accounts: Int?, deltaWrites: Bool = false) {
        switch (name, deltaWrites) {
        case ("put", false): self = .put
        case ("transfer", false): self = .transfer(accounts: accounts ?? 1_000)
        case ("hot", false): self = .transfer(accounts: accounts ?? 10)
        case ("transfer", true): self = .deltaTransfer(accounts: accounts ?? 1_000)
        case ("hot", true): self = .deltaTransfer(accounts: accounts ?? 10)
        default: return nil
        }
    }

    /// The number of accounts of a transfer workload; nil for `put`.
    package var accounts: Int? {
        switch self {
        case .put: nil
        case .transfer(let accounts), .deltaTransfer(let accounts): accounts
        }
    }

    package var description: String {
        switch self {
        case .put: "put"
        case .transfer(let accounts): "transfer(\(accounts) accounts)"
        case .deltaTransfer(let accounts): "transfer(\(accounts) accounts, delta writes)"
        }
    }

    package var chaincode: String {
        switch self {
        case .put: "kv"
        case .transfer: "accounts"
        case .deltaTransfer: "counters"
        }
    }

    /// The transactions that create what the workload needs (its accounts), 1,000 per transaction.
    /// Counters need none: they start at 0.
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
        case .transfer(let accounts), .deltaTransfer(let accounts):
            let from = Int.random(in: 0..<accounts, using: &random)
            var to = Int.random(in: 0..<(accounts - 1), using: &random)
            if to >= from { to += 1 }
            let keys = [AccountsContract.key(from), AccountsContract.key(to)]
            if case .deltaTransfer = self { return (["move", keys[0], keys[1], "1"], keys) }
            return (["transfer", keys[0], keys[1], "1"], keys)
        }
    }
}
