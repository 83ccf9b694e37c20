import Chaincode
import Foundation

/// An asset owned by someone.
struct Asset: Codable, Equatable {
    var id: String
    var owner: String
    var value: Int
}

/// Create, read, transfer, delete assets, and list them by owner through the composite-key index
/// `owner~asset` (owner, id). `create` emits the chaincode event `AssetCreated` (payload: the id).
struct AssetTransferContract: Contract {
    static let ownerIndex = "owner~asset"

    func register(_ router: inout ContractRouter) {
        router.on("create", returningJSON: { context in
            let asset = Asset(id: try context.string(0), owner: try context.string(1), value: Int(try context.string(2)) ?? 0)
            guard try context.stub.getState(asset.id) == nil else {
                throw ChaincodeError(.invalidArgument, "asset \(asset.id) already exists")
            }
            try save(asset, stub: context.stub)
            try context.stub.setEvent(name: "AssetCreated", payload: Array(asset.id.utf8))
            return asset
        })
        router.on("read", returningJSON: { context in
            try load(try context.string(0), stub: context.stub)
        })
        router.on("transfer", returningJSON: { context in
            var asset = try load(try context.string(0), stub: context.stub)
            try context.stub.deleteState(try indexKey(asset, stub: context.stub))
            asset.owner = try context.string(1)
            try save(asset, stub: context.stub)
            return asset
        })
        router.on("delete") { context in
            let asset = try load(try context.string(0), stub: context.stub)
            try context.stub.deleteState(asset.id)
            try context.stub.deleteState(try indexKey(asset, stub: context.stub))
            return []
        }
        router.on("listByOwner", returningJSON: { context in
            let owner = try context.string(0)
            return try context.stub.getStateByPartialCompositeKey(objectType: Self.ownerIndex, attributes: [owner]).map {
                try context.stub.splitCompositeKey($0.key).attributes[1]
            }
        })
    }

    private func load(_ id: String, stub: ChaincodeStub) throws -> Asset {
        guard let bytes = try stub.getState(id) else { throw ChaincodeError(.notFound, "asset \(id) does not exist") }
        return try JSONDecoder().decode(Asset.self, from: Data(bytes))
    }

    private func save(_ asset: Asset, stub: ChaincodeStub) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try stub.putState(asset.id, Array(try encoder.encode(asset)))
        try stub.putState(try indexKey(asset, stub: stub), [0])
    }

    private func indexKey(_ asset: Asset, stub: ChaincodeStub) throws -> String {
        try stub.createCompositeKey(objectType: Self.ownerIndex, attributes: [asset.owner, asset.id])
    }
}
