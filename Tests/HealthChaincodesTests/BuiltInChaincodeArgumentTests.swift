import Chaincode
import Foundation
import Testing

@testable import BuiltInChaincodes

/// Arguments and stored values at the edges of `Int`: a clear refusal, never a trap of the peer.
@Suite struct BuiltInChaincodeArgumentTests {
    let operatorIdentity = person("op", role: "operator")

    @Test func accountsRefuseOverflowingRangesAndBalances() throws {
        let ledger = FakeLedger()
        // `open 9223372036854775807 1 0` used to trap the endorsing peer on FIRST + COUNT.
        let overflowing = ledger.call("accounts", "open", [String(Int.max), "1", "0"], as: operatorIdentity)
        #expect(overflowing.status == 400 && overflowing.message.contains("FIRST + COUNT"), "\(overflowing.message)")
        #expect(ledger.call("accounts", "open", [String(Int.max - 1), "1", String(Int.max)], as: operatorIdentity).status == 200)
        #expect(ledger.call("accounts", "open", ["1", "1", "5"], as: operatorIdentity).status == 200)
        // A transfer into an account holding Int.max used to trap every peer that simulated it.
        let full = AccountsContract.key(Int.max - 1)
        let into = ledger.call("accounts", "transfer", [AccountsContract.key(1), full, "1"], as: operatorIdentity)
        #expect(into.status == 400 && into.message.contains("cannot hold more"), "\(into.message)")
        #expect(ledger.call("accounts", "balance", [AccountsContract.key(1)], as: operatorIdentity).payload == Array("5".utf8))
        for amount in ["-1", "9223372036854775808", "1e3", ""] {
            #expect(ledger.call("accounts", "transfer", [AccountsContract.key(1), full, amount], as: operatorIdentity).status == 400, "\(amount)")
        }
    }

    @Test func chaincodeNamesFollowFabricsRule() {
        for name in ["kv", "asset-transfer", "a_b-c9", "Accounts2"] { #expect(LifecycleContract.isChaincodeName(name), "\(name)") }
        for name in ["", "_lifecycle", "-a", "a-", "a--b", "a\u{0}b", "a b", "é", "a.b"] { #expect(!LifecycleContract.isChaincodeName(name), "\(name)") }
    }
}
