import Chaincode
import Foundation

/// A contract exercising every stub call the SDK offers.
struct ProbeContract: Contract {
    func register(_ router: inout ContractRouter) {
        router.on("put") { context in
            try context.stub.putState(try context.string(0), Array(try context.string(1).utf8))
            return []
        }
        router.on("get") { context in
            try context.stub.getState(try context.string(0)) ?? []
        }
        /// Writes a key, then reads it back: read-your-own-writes.
        router.on("putThenGet") { context in
            let key = try context.string(0)
            try context.stub.putState(key, Array("fresh".utf8))
            let first = try context.stub.getState(key) ?? []
            try context.stub.deleteState(key)
            let afterDelete = try context.stub.getState(key)
            return first + Array(afterDelete == nil ? "|deleted".utf8 : "|present".utf8)
        }
        router.on("increment") { context in
            let key = try context.string(0)
            let current = Int(String(decoding: try context.stub.getState(key) ?? Array("0".utf8), as: UTF8.self)) ?? 0
            try context.stub.putState(key, Array(String(current + 1).utf8))
            return Array(String(current + 1).utf8)
        }
        router.on("addAsset") { context in
            let key = try context.stub.createCompositeKey(objectType: "asset", attributes: [try context.string(0), try context.string(1)])
            try context.stub.putState(key, Array(try context.string(2).utf8))
            return Array(key.utf8)
        }
        router.on("listByOwner", returningJSON: { context in
            try context.stub.getStateByPartialCompositeKey(objectType: "asset", attributes: [try context.string(0)]).map {
                try context.stub.splitCompositeKey($0.key).attributes[1]
            }
        })
        router.on("page", returningJSON: { context -> [String: [String]] in
            let page = try context.stub.getStateByRange(
                startKey: try context.string(0), endKey: try context.string(1), pageSize: Int(try context.string(2))!,
                bookmark: context.arguments.count > 3 ? try context.string(3) : nil)
            return ["keys": page.entries.map(\.key), "bookmark": page.bookmark.map { [$0] } ?? []]
        })
        router.on("pageAndWrite") { context in
            _ = try context.stub.getStateByRange(startKey: "", endKey: "", pageSize: 10, bookmark: nil)
            try context.stub.putState("x", [1])
            return []
        }
        router.on("range", returningJSON: { context in
            try context.stub.getStateByRange(startKey: try context.string(0), endKey: try context.string(1)).map(\.key)
        })
        router.on("protect") { context in
            try context.stub.putState(try context.string(0), Array("order".utf8))
            try context.stub.setStateValidationParameter(try context.string(0), Array(try context.string(1).utf8))
            return try context.stub.getStateValidationParameter(try context.string(0)) ?? []
        }
        router.on("policyOf") { context in
            try context.stub.getStateValidationParameter(try context.string(0)) ?? []
        }
        router.on("emit") { context in
            try context.stub.setEvent(name: "first", payload: [1])
            try context.stub.setEvent(name: try context.string(0), payload: Array(try context.string(1).utf8))
            return []
        }
        router.on("callOther") { context in
            let response = try context.stub.invokeChaincode("ledgerbook", arguments: [Array("record".utf8), try context.bytes(0)])
            guard response.isSuccess else { throw ChaincodeError(.internalError, "ledgerbook refused: \(response.message)") }
            try context.stub.putState("called", response.payload)
            return response.payload
        }
        router.on("whoami", returningJSON: { context in
            try context.clientIdentity.assertAttributeValue("role", "consulting_doctor")
            return [context.clientIdentity.mspID, context.clientIdentity.role, context.stub.transactionID, String(context.stub.transactionTimestamp.timeIntervalSince1970)]
        })
        router.on("secret") { context in
            context.stub.transient["dose"] ?? []
        }
        router.on("fail") { _ in throw ChaincodeError(.notFound, "no such record") }
        router.on("crash") { _ in throw CocoaError(.fileNoSuchFile) }
        router.on("spin") { context in
            while true { _ = try context.stub.getState("loop") }
        }
        router.on("huge") { _ in [UInt8](repeating: 0, count: 5 * 1024 * 1024) }
        router.on("history", returningJSON: { context in
            try context.stub.history(forKey: try context.string(0)).map { $0.value.map { String(decoding: $0, as: UTF8.self) } ?? "<deleted>" }
        })
    }
}

/// The callee of cross-chaincode calls.
struct LedgerBookContract: Contract {
    func register(_ router: inout ContractRouter) {
        router.on("record") { context in
            let entry = try context.string(0)
            try context.stub.putState("entry", Array(entry.utf8))
            return Array("recorded \(entry)".utf8)
        }
    }
}
