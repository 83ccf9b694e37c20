// swift-tools-version: 6.1
// A third-party chaincode for Medrex: a Swift package that depends on the SDK and builds a
// dynamic library. Build: `swift build -c release`; install: `medrex chaincode install .`.
import PackageDescription

let package = Package(
    name: "asset-transfer",
    products: [
        .library(name: "AssetTransfer", type: .dynamic, targets: ["AssetTransfer"]),
    ],
    dependencies: [
        .package(path: "../../Sources/Chaincode"),
    ],
    targets: [
        .target(name: "AssetTransfer", dependencies: [.product(name: "Chaincode", package: "Chaincode")]),
    ],
    swiftLanguageModes: [.v6]
)
