import Foundation

/// The example chaincode plugin (`Examples/asset-transfer`), built in debug by its own package.
package enum ExamplePlugin {
    package static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Builds the example package and returns its plugin library.
    package static func assetTransfer() async throws -> URL {
        let example = repository.appendingPathComponent("Examples/asset-transfer")
        let build = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/env"), ["swift", "build", "--package-path", example.path])
        guard build.status == 0 else { throw ExamplePluginError("building the example plugin failed:\n\(build.output)") }
        let bin = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/env"), ["swift", "build", "--package-path", example.path, "--show-bin-path"])
        return URL(fileURLWithPath: bin.output.trimmingCharacters(in: .whitespacesAndNewlines)).appendingPathComponent("libAssetTransfer.so")
    }
}

package struct ExamplePluginError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}
