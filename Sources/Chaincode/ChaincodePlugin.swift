/// The interface between the node and a chaincode plugin: a shared library that links this SDK
/// (libChaincode.so) and exports two C functions:
///
///     import Chaincode
///
///     @_cdecl("medrex_chaincode_abi_version")
///     public func medrexChaincodeABIVersion() -> UInt32 { ChaincodePlugin.abiVersion }
///
///     @_cdecl("medrex_chaincode_entry")
///     public func medrexChaincodeEntry() -> UnsafeMutableRawPointer { ChaincodePlugin.export(MyContract()) }
///
/// The node first calls `medrex_chaincode_abi_version` (a plain C call, safe whatever SDK the
/// plugin was built with) and refuses the plugin unless it equals its own; only then does it call
/// the entry point and take the contract.
public enum ChaincodePlugin {
    /// The plugin interface version. Inlined into each plugin when it is compiled, so a plugin
    /// reports the version of the SDK it was built against. Bump it on any change to the types
    /// that cross the plugin boundary.
    @inlinable public static var abiVersion: UInt32 { 1 }

    /// The interface version of the SDK library loaded in this process (the node's).
    public static func loadedABIVersion() -> UInt32 { abiVersion }

    public static let abiVersionSymbol = "medrex_chaincode_abi_version"
    public static let entrySymbol = "medrex_chaincode_entry"

    /// Hands `contract` to the node: a retained box the node takes ownership of.
    @inlinable public static func export(_ contract: any Contract) -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(ExportedContract(contract)).toOpaque()
    }
}

/// A contract crossing the plugin boundary.
public final class ExportedContract: Sendable {
    public let contract: any Contract

    @inlinable public init(_ contract: any Contract) { self.contract = contract }
}
