import Chaincode

// The two C entry points every Medrex chaincode plugin exports (see `ChaincodePlugin`).

@_cdecl("medrex_chaincode_abi_version")
public func medrexChaincodeABIVersion() -> UInt32 { ChaincodePlugin.abiVersion }

@_cdecl("medrex_chaincode_entry")
public func medrexChaincodeEntry() -> UnsafeMutableRawPointer { ChaincodePlugin.export(AssetTransferContract()) }
