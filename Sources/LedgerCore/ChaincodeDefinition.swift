import Foundation

/// A chaincode as the channel agreed to run it (Fabric's chaincode definition): name, version,
/// sequence (1 for the first definition, +1 for each change) and endorsement policy (policy text;
/// empty means the channel's default). Stored as canonical JSON (sorted keys) in the
/// `_lifecycle` namespace, so every peer reads and compares the same bytes.
package struct ChaincodeDefinition: Codable, Sendable, Hashable {
    package var name: String
    package var version: String
    package var sequence: Int
    package var endorsementPolicy: String

    package init(name: String, version: String, sequence: Int, endorsementPolicy: String) {
        self.name = name
        self.version = version
        self.sequence = sequence
        self.endorsementPolicy = endorsementPolicy
    }

    /// The namespace (and name) of the lifecycle system chaincode.
    package static let namespace = "_lifecycle"
    /// The version every peer runs `_lifecycle` at.
    package static let lifecycleVersion = "1"

    /// The state key of the committed definition of `name`.
    package static func definitionKey(_ name: String) -> String { "definition/\(name)" }

    /// The state key of `mspID`'s approval of definition `sequence` of `name`.
    package static func approvalKey(_ name: String, sequence: Int, mspID: String) -> String { "approval/\(name)/\(sequence)/\(mspID)" }

    package var canonicalJSON: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    /// Decodes stored definition bytes. Every proposal and every validated block reads the
    /// definition of its chaincode, and a channel holds few: decoded definitions are kept by
    /// their bytes.
    package static func decode(_ bytes: [UInt8]) -> ChaincodeDefinition? {
        decoded.value(for: bytes) { try? JSONDecoder().decode(ChaincodeDefinition.self, from: Data($0)) }
    }

    private static let decoded = BoundedCache<[UInt8], ChaincodeDefinition>(capacity: 256)
}
