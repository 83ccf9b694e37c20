// swift-tools-version: 6.1
// Medrex — a permissioned ledger for healthcare networks (see README.md and docs/ARCHITECTURE.md).
import PackageDescription

let package = Package(
    name: "Medrex",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "medrex", targets: ["medrex"]),
    ],
    dependencies: [
        // The chaincode SDK (Sources/Chaincode) is a package of its own with a dynamic library
        // product, so that the node links libChaincode.so and chaincode plugins share it (DESIGN §6).
        .package(path: "Sources/Chaincode"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // Generated protobuf and gRPC code only (scripts/gen-proto.sh); nothing hand-written.
        .target(
            name: "LedgerWire",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ],
            exclude: ["README.md"]
        ),
        // Block and transaction helpers, hashing, txids, validation codes, limits.
        .target(
            name: "LedgerCore",
            dependencies: [
                "LedgerWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // X.509 MSPs, NodeOUs, healthcare attributes, signing and verifying, endorsement policies.
        .target(
            name: "Identity",
            dependencies: [
                "LedgerCore",
                "LedgerWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        // What makes a block from the ordering service trustworthy: the orderer's signature (made by
        // orderers) and its verification with the chain checks (by peers and following orderers);
        // and who may read which blocks (Deliver seeks, checked alike by orderers and peers).
        .target(
            name: "BlockIntegrity",
            dependencies: ["Identity", "LedgerCore", "LedgerWire", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // network-config/*.yaml: the network description, and the key material generated from it.
        .target(
            name: "NetworkConfig",
            dependencies: [
                "Identity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Debian's librocksdb-dev through its C API.
        .systemLibrary(name: "CRocksDB"),
        // PKCS#11 declarations (Debian's libp11-kit-dev); token modules are loaded with dlopen.
        .systemLibrary(name: "CPKCS11"),
        // World state, block store, history index and recovery (RocksDB + in-memory).
        .target(
            name: "WorldState",
            dependencies: ["CRocksDB", "LedgerCore", "LedgerWire", .product(name: "Chaincode", package: "Chaincode"), .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Endorser",
            dependencies: ["LedgerCore", "LedgerWire", "Identity", "WorldState", .product(name: "Chaincode", package: "Chaincode")]
        ),
        // An enrollment CA per organization with Fabric CA's REST API (register, enroll, reenroll,
        // revoke, CRLs), its registry in a file or in PostgreSQL, and its client.
        .target(
            name: "EnrollmentCA",
            dependencies: [
                "Identity", "LedgerCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // Every daemon's operations endpoint: /healthz and Prometheus /metrics over HTTP.
        .target(
            name: "Operations",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // Mutual TLS settings for gRPC servers and clients, and the lifecycle of the daemons' parts,
        // shared by the peer and the orderer.
        .target(
            name: "RPCTransport",
            dependencies: [
                "NetworkConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Orderer",
            dependencies: [
                "BlockIntegrity", "LedgerCore", "LedgerWire", "Identity", "WorldState", "NetworkConfig", "NodeClients", "RPCTransport", "Operations", "EtcdClient",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A minimal etcd v3 client (gRPC over mutual TLS, with failover) for the crash-tolerant ordering service.
        .target(
            name: "EtcdClient",
            dependencies: [
                "LedgerCore", "LedgerWire", "RPCTransport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "OffChainStore",
            dependencies: [
                "WorldState", "CPKCS11",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The clients of every node API: orderer (Broadcast, Deliver), endorser, gateway, the
        // transaction and endorsement streams, peer admin, PHI records. The CLI, the load
        // generator and the daemons use these; no client depends on a daemon module.
        .target(
            name: "NodeClients",
            dependencies: [
                "Endorser", "HealthChaincodes", "Identity", "LedgerCore", "LedgerWire", "OffChainStore", "RPCTransport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        // Validate and commit: blocks from a block source (Deliver) verified, their transactions
        // validated (signatures, policies, MVCC) and committed; commit notifications; what a peer
        // serves of its committed blocks.
        .target(
            name: "Committer",
            dependencies: [
                "BlockIntegrity", "Endorser", "Identity", "LedgerCore", "LedgerWire", "NodeClients", "RPCTransport", "WorldState",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Fabric's Gateway service and Medrex's transaction stream: endorse across organizations,
        // submit to ordering (following unconfirmed submissions), report commit status.
        .target(
            name: "GatewayService",
            dependencies: [
                "BlockIntegrity", "Committer", "Endorser", "Identity", "LedgerCore", "LedgerWire", "NodeClients", "RPCTransport", "WorldState",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // PHI records off the chain: the peer's service that stores, anchors, reads and audits them.
        .target(
            name: "PhiService",
            dependencies: [
                "Committer", "Endorser", "GatewayService", "HealthChaincodes", "Identity", "LedgerCore", "LedgerWire", "NetworkConfig", "OffChainStore", "WorldState",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Chaincode", package: "Chaincode"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // The peer daemon: peer.yaml, joining channels, wiring endorser, committer, gateway and PHI
        // service, the gRPC services (Endorser, Deliver, admin), operations endpoint.
        .target(
            name: "PeerDaemon",
            dependencies: [
                "BuiltInChaincodes", "HealthChaincodes", "BlockIntegrity", "Committer", "GatewayService", "NodeClients", "PhiService",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                "LedgerCore", "LedgerWire", "Identity", "WorldState", "Endorser", "OffChainStore", "NetworkConfig", "RPCTransport", "Operations",
                .product(name: "Chaincode", package: "Chaincode"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Chaincodes that ship with the peer: bench workloads and the healthcare contracts.
        .target(name: "BuiltInChaincodes", dependencies: ["Identity", "LedgerCore", "HealthChaincodes", .product(name: "Chaincode", package: "Chaincode")]),
        // The healthcare contracts (phi, access, audit, clinical, vitals): the chaincode SDK only.
        .target(name: "HealthChaincodes", dependencies: [.product(name: "Chaincode", package: "Chaincode")]),
        // `medrex bench run`: workloads driven through a peer's gateway, with a latency report.
        .target(
            name: "LoadGenerator",
            dependencies: [
                "BuiltInChaincodes", "Endorser", "Identity", "LedgerCore", "NodeClients", "LedgerWire", "RPCTransport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // `medrex fuzz-network`: mutated requests to every gRPC method of running nodes, with liveness checks.
        .target(
            name: "NetworkFuzzing",
            dependencies: [
                "Endorser", "Identity", "LedgerCore", "LedgerWire", "RPCTransport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // `medrex simulate` and SimulationTests: a whole network in one process on the stage seams,
        // with crashes, partitions and message faults from one seed.
        .target(
            name: "NetworkSimulation",
            dependencies: [
                "BlockIntegrity", "BuiltInChaincodes", "Committer", "Endorser", "EtcdClient", "Identity", "LedgerCore", "LedgerWire", "Orderer", "RPCTransport", "WorldState",
                .product(name: "Chaincode", package: "Chaincode"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "medrex",
            dependencies: [
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                "EnrollmentCA",
                .product(name: "Hummingbird", package: "hummingbird"),
                "PeerDaemon",
                "NodeClients",
                "Committer",
                "BuiltInChaincodes",
                "HealthChaincodes",
                "LoadGenerator",
                "NetworkFuzzing",
                "NetworkSimulation",
                "EtcdClient",
                "LedgerCore",
                "LedgerWire",
                "Orderer",
                "RPCTransport",
                "Endorser",
                "WorldState",
                "NetworkConfig",
                "Identity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Fixtures shared by the test targets: Fabric's recorded vectors and a throwaway PKI.
        .target(
            name: "TestSupport",
            dependencies: ["Identity", "LedgerCore", "LedgerWire", "RPCTransport", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "LedgerCoreTests", dependencies: ["LedgerCore", "LedgerWire", "TestSupport"]),
        .testTarget(
            name: "IdentityTests",
            dependencies: ["Identity", "LedgerCore", "LedgerWire", "TestSupport", .product(name: "X509", package: "swift-certificates")]
        ),
        .testTarget(
            name: "NetworkConfigTests",
            dependencies: ["NetworkConfig", "Identity", "TestSupport", .product(name: "X509", package: "swift-certificates"), .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "ChaincodeTests", dependencies: [.product(name: "Chaincode", package: "Chaincode")]),
        .testTarget(
            name: "HealthChaincodesTests",
            dependencies: ["HealthChaincodes", "BuiltInChaincodes", "Endorser", "Identity", "LedgerCore", "LedgerWire", "WorldState", "TestSupport", .product(name: "Chaincode", package: "Chaincode")]
        ),
        .testTarget(name: "WorldStateTests", dependencies: ["WorldState", "LedgerCore", "LedgerWire", "TestSupport"]),
        .testTarget(
            name: "EndorserTests",
            dependencies: ["Endorser", "Identity", "LedgerCore", "LedgerWire", "WorldState", .product(name: "Chaincode", package: "Chaincode"), "TestSupport", .product(name: "X509", package: "swift-certificates")]
        ),
        .testTarget(
            name: "OrdererTests",
            dependencies: [
                "Orderer", "BlockIntegrity", "EtcdClient", "LedgerCore", "LedgerWire", "Identity", "WorldState", "Committer", "GatewayService", "NodeClients", "PeerDaemon", "PhiService", "NetworkConfig", "RPCTransport",
                "Operations", "TestSupport", .product(name: "InMemoryLogging", package: "swift-log"), .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "OffChainStoreTests",
            dependencies: [
                "OffChainStore", "TestSupport", .product(name: "Crypto", package: "swift-crypto"), .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(name: "EtcdClientTests", dependencies: ["EtcdClient", "LedgerCore", "TestSupport", "RPCTransport", .product(name: "GRPCCore", package: "grpc-swift-2")]),
        .testTarget(
            name: "PeerTests",
            dependencies: ["PeerDaemon", "Committer", "GatewayService", "NodeClients", "PhiService", "BlockIntegrity", "BuiltInChaincodes", "LedgerCore", "LedgerWire", "Identity", "NetworkConfig", "Endorser", "RPCTransport", "Orderer", "WorldState", "TestSupport",
                "HealthChaincodes", "OffChainStore", "NetworkFuzzing", "NetworkSimulation", "EnrollmentCA", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"), .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "SimulationTests", dependencies: ["NetworkSimulation"]),
    ],
    swiftLanguageModes: [.v6]
)
