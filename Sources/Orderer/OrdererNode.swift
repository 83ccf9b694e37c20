import EtcdClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import Logging
import NetworkConfig
import Operations
import RPCTransport
import ServiceLifecycle
import Synchronization
import WorldState
import X509
import NodeClients

/// An orderer process: one chain per configured channel, made by the consensus type the channel's
/// configuration names (`OrdererNode.consensusTypes`: `solo`, or `etcd` over the etcd cluster of
/// the orderer's configuration), served over gRPC with mutual TLS.
package final class OrdererNode: Sendable {
    package let configuration: OrdererConfiguration
    private let chains: [String: any OrderingChain]
    /// What the chains of several channels share (the etcd client), closed on shutdown.
    private let shared: SharedConsensusResources
    /// TLS roots of the etcd channels' orderer organizations, accepted from clients so that
    /// followers can forward Broadcast to the leader.
    private let ordererTLSRootPEMs: [String]
    private let databases: [RocksDatabase]
    /// The client CAs the server trusts: orderer.yaml's and those of every channel's organizations.
    private let serverTrust = ServerTrust()
    let logger: Logger
    package let metrics = OrdererMetrics()
    private let stop = GracefulServerStop()
    /// The group of the running parts, which `beginShutdown` shuts down.
    let partsGroup = DaemonPartsGroup()

    /// - Parameter timing: For etcd channels; the lease TTL comes from the configuration's `etcd.leaseSeconds`.
    package init(configuration: OrdererConfiguration, timing: EtcdChainTiming = EtcdChainTiming(), logger: Logger = Logger(label: "medrex.orderer")) throws {
        self.configuration = configuration
        self.logger = logger
        let signer = try CryptoMaterialLoader.loadNodeSigningIdentity(CryptoMaterialLayout.MSPFolder(directory: configuration.msp), mspID: configuration.mspID, at: Date())
        var chains: [String: any OrderingChain] = [:]
        var databases: [RocksDatabase] = []
        let shared = SharedConsensusResources()
        for genesisFile in configuration.channels {
            let genesis: Common_Block
            do {
                genesis = try Common_Block(serializedBytes: try Data(contentsOf: genesisFile))
            } catch {
                throw ConfigError(.unreadable, file: genesisFile.path, line: nil, field: "", reason: "not a readable genesis block: \(error)")
            }
            let config = try ChannelConfig(block: genesis)
            guard let consensus = Self.consensusTypes[config.consensusType] else {
                throw ConfigError(.invalidValue, file: genesisFile.path, line: nil, field: "ConsensusType",
                                  reason: "consensus '\(config.consensusType)' is not available in this orderer; create the channel with consensus: "
                                      + Self.consensusTypes.keys.sorted().joined(separator: " or "))
            }
            try consensus.check(configuration, config, genesisFile)
            // The orderer keeps blocks only: no world state.
            let directory = configuration.ledgerDirectory(channel: config.channelID)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let database = try RocksDatabase(path: directory.appendingPathComponent("index").path, columnFamilies: BlockStore.columnFamilies)
            let blockStore = try BlockStore(directory: directory.appendingPathComponent("blocks"), database: database, logger: logger)
            try Self.join(blockStore, genesis: genesis, channel: config.channelID)
            databases.append(database)
            let metrics = self.metrics
            let channelID = config.channelID
            // The configuration as of the last config block stored (the genesis block's at first).
            let (latest, lastConfigNumber) = try ChannelConfig.latest(height: blockStore.height) { try blockStore.block(number: $0) }
            let settings = try ChannelOrderingSettings(config: latest)
            try serverTrust.setChannel(channelID, rootPEMs: latest.tlsRootCertificatePEMs)
            let (serverTrust, logger) = (self.serverTrust, self.logger)
            let onBlockStored: @Sendable (Common_Block) -> Void = { block in
                metrics.blockStored(channel: channelID, number: block.header.number, envelopes: block.data.data.count)
                // A stored config block is valid (cut by this orderer or verified): its organizations' clients may connect.
                guard block.holdsConfigTransaction, let config = try? ChannelConfig(block: block) else { return }
                do {
                    try serverTrust.setChannel(channelID, rootPEMs: config.tlsRootCertificatePEMs)
                } catch {
                    logger.error("the TLS roots of a new channel configuration cannot be used", metadata: ["channel": "\(channelID)", "error": "\(error)"])
                }
            }
            let making = ChainMaking(
                configuration: configuration, channel: latest, genesis: genesis, settings: settings, lastConfigNumber: lastConfigNumber, blockStore: blockStore, signer: signer,
                timing: timing, metrics: metrics, logger: logger, onBlockStored: onBlockStored)
            chains[channelID] = try consensus.makeChain(making, shared)
            metrics.setHeight(channel: channelID, height: blockStore.height)
        }
        self.chains = chains
        self.shared = shared
        self.ordererTLSRootPEMs = shared.clientTLSRoots
        self.databases = databases
    }

    /// Stores the genesis block as block 0 of a new ledger; an existing ledger must start with it.
    static func join(_ blockStore: any BlockStorage, genesis: Common_Block, channel: String) throws {
        if blockStore.height == 0 {
            try blockStore.append(genesis)
        } else if try blockStore.block(number: 0)?.header.hash != genesis.header.hash {
            throw ConfigError(.invalidValue, file: "channel \(channel)", line: nil, field: "", reason: "the ledger on disk was started from another genesis block")
        }
    }

    /// The orderer's parts, in start order: its ledgers (closed last), the etcd clients, its chains'
    /// own work (election, log following: in-flight broadcasts need it until the server drained),
    /// its operations endpoint and its RPC server (stopped first).
    func parts() async throws -> [any Service] {
        let tls = MutualTLS(
            certificate: configuration.tlsCertificate, privateKey: configuration.tlsPrivateKey, trustedCAs: configuration.tlsClientRootCAs,
            trustedCAPEMs: ordererTLSRootPEMs, options: configuration.tlsOptions)
        let transport = try NodeServerTransport(
            host: configuration.listenHost, port: configuration.listenPort, tls: tls, context: try serverTrust.makeContext(base: tls))
        let server = GRPCServer(transport: transport, services: [AtomicBroadcastService(chains: chains, clock: { Date() }, metrics: metrics, shutdown: stop.signal)])
        let chains = self.chains
        var operations: OperationsServer?
        if let endpoint = configuration.operations {
            operations = try await OperationsServer(
                host: endpoint.host, port: endpoint.port, registry: metrics.registry,
                checks: ["ledgers": { chains.isEmpty ? "no channel joined" : nil }])
        }
        if let operations { logger.notice("operations endpoint serving", metadata: ["port": "\(operations.port)"]) }
        let expiry = certificateExpiry
        let (configuration, logger, databases, shared, stop, operationsServer) = (self.configuration, self.logger, self.databases, self.shared, self.stop, operations)
        let running = Array(chains.values)
        let consensusNames = Set(chains.values.map { type(of: $0).consensusType }).sorted().joined(separator: ", ")
        return [
            // Closed here rather than in a deinit on whichever thread drops them last, which can
            // race with the process exiting (RocksDB aborts when its statics are destroyed first).
            ReleasedPart("ledgers") {
                for database in databases {
                    do {
                        try database.close()
                    } catch {
                        logger.warning("a ledger database could not be closed", metadata: ["error": "\(error)"])
                    }
                }
                logger.notice("orderer stopped")
            },
            BackgroundPart("consensus") {
                await withDiscardingTaskGroup { group in
                    for chain in running { group.addTask { await chain.run() } }
                }
            } afterwards: {
                await shared.close()
            },
            BackgroundPart("certificate expiry") { await expiry.run() },
            ReleasedPart("operations endpoint") { await operationsServer?.close() },
            RPCServerPart(server: server, transport: transport, stop: stop) { port in
                logger.notice("orderer serving", metadata: ["address": "\(configuration.listenHost):\(port)", "consensus": "\(consensusNames)"])
            } onShutdown: {
                stop.request()
                // Deliver streams wait for blocks that will not come: end them so the server can stop.
                Task { for chain in running { await chain.stopServing() } }
            },
        ]
    }

    /// The certificates this orderer uses, watched for expiry (`medrex_certificate_expiry_seconds`).
    var certificateExpiry: CertificateExpiry {
        let files = CryptoMaterialLayout.MSPFolder(directory: configuration.msp)
            .nodeCertificateFiles(tlsCertificate: configuration.tlsCertificate, clientRootCAs: configuration.tlsClientRootCAs)
        return CertificateExpiry(watched: files.map { .init(kind: $0.kind, file: $0.file) }, registry: metrics.registry, logger: logger)
    }

    /// Loads the TLS certificate and key again (SIGHUP): new connections get them, open streams
    /// keep theirs. A file that does not load is logged and the current ones stay.
    package func reloadTLS() {
        serverTrust.reload(certificate: configuration.tlsCertificate, logger: logger)
        certificateExpiry.check(now: Date())
    }

    /// Shuts the orderer down gracefully, as SIGTERM does: stop accepting, answer the envelopes
    /// read, end Deliver streams, give up leadership, close the ledgers.
    package func beginShutdown() {
        partsGroup.shutDown()
    }
}
