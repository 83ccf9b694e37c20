import Chaincode
import Foundation

/// Why a chaincode plugin was refused.
package struct ChaincodePluginError: Error, Hashable, CustomStringConvertible {
    package let path: String
    package let reason: String
    package var description: String { "chaincode plugin \(path): \(reason)" }
}

/// Loads chaincode plugins with `dlopen`. A library is checked before any Swift value crosses
/// the boundary: it must export the plugin ABI function and report this node's ABI version.
/// Libraries are never closed (Swift metadata from them may live as long as the process).
package enum ChaincodePluginLoader {
    package static func load(path: String) throws(ChaincodePluginError) -> any Contract {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let message = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw ChaincodePluginError(path: path, reason: "cannot be loaded: \(message)")
        }
        guard let abiFunction = dlsym(handle, ChaincodePlugin.abiVersionSymbol) else {
            throw ChaincodePluginError(path: path, reason: "is not a Medrex chaincode plugin (it exports no \(ChaincodePlugin.abiVersionSymbol))")
        }
        let pluginABI = unsafeBitCast(abiFunction, to: (@convention(c) () -> UInt32).self)()
        let nodeABI = ChaincodePlugin.loadedABIVersion()
        guard pluginABI == nodeABI else {
            throw ChaincodePluginError(
                path: path, reason: "was built against chaincode SDK ABI \(pluginABI), but this node has ABI \(nodeABI); rebuild it against this release's SDK")
        }
        guard let entry = dlsym(handle, ChaincodePlugin.entrySymbol) else {
            throw ChaincodePluginError(path: path, reason: "exports no \(ChaincodePlugin.entrySymbol)")
        }
        let exported = unsafeBitCast(entry, to: (@convention(c) () -> UnsafeMutableRawPointer).self)()
        return Unmanaged<ExportedContract>.fromOpaque(exported).takeRetainedValue().contract
    }
}
