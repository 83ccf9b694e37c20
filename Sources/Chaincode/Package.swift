// swift-tools-version: 6.1
// The Medrex chaincode SDK as a package of its own, so that it is built and linked as one shared
// library (libChaincode.so) by the node and by every chaincode plugin: a plugin must share the
// node's copy of the SDK's type metadata, or casts across the plugin boundary fail.
// Chaincode packages depend on it by path: `.package(path: "<medrex>/Sources/Chaincode")`.
import PackageDescription

let package = Package(
    name: "MedrexChaincode",
    products: [
        .library(name: "Chaincode", type: .dynamic, targets: ["Chaincode"]),
    ],
    targets: [
        .target(name: "Chaincode", path: ".", exclude: ["Package.swift"]),
    ],
    swiftLanguageModes: [.v6]
)
