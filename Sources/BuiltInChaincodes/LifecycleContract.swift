import Chaincode
import LedgerCore
import Identity

/// `_lifecycle`: chaincode definitions agreed by the channel's organizations, as in Fabric's
/// lifecycle. An organization's admin approves a definition for their organization; once a
/// majority of the channel's application organizations approved the same definition, anyone may
/// commit it, and endorsement and validation use it from the next block on.
///
/// - `approve NAME VERSION SEQUENCE [POLICY]`: records the caller's organization's approval (the
///   caller must be an admin). SEQUENCE must be the next one (committed sequence + 1).
/// - `commit NAME VERSION SEQUENCE [POLICY]`: commits the definition when a majority approved it.
/// - `definition NAME`: the committed definition as JSON (404 when none).
/// - `approvals NAME VERSION SEQUENCE [POLICY]`: which organizations approved exactly this.
package struct LifecycleContract: Contract {
    /// The channel's application organizations (MSP ids).
    package let organizations: [String]

    package init(organizations: [String]) { self.organizations = organizations }

    package func register(_ router: inout ContractRouter) {
        router.on("approve") { context in
            let definition = try Self.definition(context)
            let caller = context.clientIdentity
            guard caller.role == "admin" else {
                throw ChaincodeError(.accessDenied, "only an admin of an organization approves chaincode definitions for it")
            }
            guard organizations.contains(caller.mspID) else {
                throw ChaincodeError(.accessDenied, "\(caller.mspID) is not an application organization of this channel")
            }
            try Self.requireNextSequence(definition, context)
            try context.stub.putState(
                ChaincodeDefinition.approvalKey(definition.name, sequence: definition.sequence, mspID: caller.mspID), definition.canonicalJSON)
            return []
        }
        router.on("commit") { context in
            let definition = try Self.definition(context)
            try Self.requireNextSequence(definition, context)
            let approvers = try approvers(of: definition, context)
            let needed = organizations.count / 2 + 1
            guard approvers.count >= needed else {
                throw ChaincodeError(
                    .accessDenied,
                    "definition \(definition.name) \(definition.version) sequence \(definition.sequence) has \(approvers.count) of the \(needed) approvals it needs"
                        + " (approved by: \(approvers.isEmpty ? "none" : approvers.joined(separator: ", ")))")
            }
            try context.stub.putState(ChaincodeDefinition.definitionKey(definition.name), definition.canonicalJSON)
            return []
        }
        router.on("definition") { context in
            let name = try context.string(0)
            guard let bytes = try context.stub.getState(ChaincodeDefinition.definitionKey(name)) else {
                throw ChaincodeError(.notFound, "chaincode \(name) has no committed definition")
            }
            return bytes
        }
        router.on("approvals") { context in
            Array(try approvers(of: try Self.definition(context), context).joined(separator: ",").utf8)
        }
    }

    private func approvers(of definition: ChaincodeDefinition, _ context: TransactionContext) throws -> [String] {
        try organizations.filter { mspID in
            try context.stub.getState(ChaincodeDefinition.approvalKey(definition.name, sequence: definition.sequence, mspID: mspID))
                == definition.canonicalJSON
        }
    }

    private static func definition(_ context: TransactionContext) throws -> ChaincodeDefinition {
        let name = try context.string(0)
        let version = try context.string(1)
        guard let sequence = Int(try context.string(2)), sequence >= 1 else {
            throw ChaincodeError(.invalidArgument, "SEQUENCE must be a positive integer")
        }
        let policy = context.arguments.count > 3 ? try context.string(3) : ""
        guard name.utf8.count <= 64, Self.isChaincodeName(name) else {
            throw ChaincodeError(.invalidArgument, "a chaincode name is 1 to 64 letters and digits, single '-' or '_' between them (Fabric's rule)")
        }
        guard version.utf8.count <= 64, !version.isEmpty, version.utf8.allSatisfy(Self.isVersionByte) else {
            throw ChaincodeError(.invalidArgument, "VERSION is 1 to 64 of A-Z a-z 0-9 _ . + - (Fabric's rule)")
        }
        if !policy.isEmpty {
            do {
                _ = try EndorsementPolicy.parse(policy)
            } catch {
                throw ChaincodeError(.invalidArgument, "POLICY does not parse: \(error)")
            }
        }
        return ChaincodeDefinition(name: name, version: version, sequence: sequence, endorsementPolicy: policy)
    }

    /// Fabric's chaincode name rule, `^[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*$`: a name is also a state
    /// namespace, so it can hold no U+0000 and never starts with '_' (system namespaces).
    static func isChaincodeName(_ name: String) -> Bool {
        var previousWasSeparator = true
        for byte in name.utf8 {
            let isSeparator = byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            guard isSeparator ? !previousWasSeparator : isAlphanumeric(byte) else { return false }
            previousWasSeparator = isSeparator
        }
        return !previousWasSeparator
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isVersionByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || [UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-")].contains(byte)
    }

    private static func requireNextSequence(_ definition: ChaincodeDefinition, _ context: TransactionContext) throws {
        let committed = try context.stub.getState(ChaincodeDefinition.definitionKey(definition.name)).flatMap(ChaincodeDefinition.decode)
        let (next, overflow) = (committed?.sequence ?? 0).addingReportingOverflow(1)
        guard !overflow else { throw ChaincodeError(.invalidArgument, "chaincode \(definition.name) is at the last possible sequence") }
        guard definition.sequence == next else {
            throw ChaincodeError(.invalidArgument, "chaincode \(definition.name) is at sequence \(next - 1); the next definition must have sequence \(next)")
        }
    }
}
