import EtcdClient
import Foundation
import Identity
import LedgerWire
import Logging
import NetworkConfig
import RPCTransport
import Synchronization
import WorldState

/// What a consensus type is given to make the chain of one channel.
struct ChainMaking {
    let configuration: OrdererConfiguration
    let channel: ChannelConfig
    let genesis: Common_Block
    let settings: ChannelOrderingSettings
    /// The number of the config block `settings` come from.
    let lastConfigNumber: UInt64
    let blockStore: any BlockStorage
    let signer: SigningIdentity
    let timing: EtcdChainTiming
    let metrics: OrdererMetrics
    let logger: Logger
    let onBlockStored: @Sendable (Common_Block) -> Void
}

/// What the chains of several channels in one orderer share: one etcd client for every etcd
/// channel, and the TLS roots the server must accept because of them. Closed on shutdown.
final class SharedConsensusResources: Sendable {
    private struct State {
        var etcd: EtcdClient?
        var clientTLSRoots: [String] = []
    }

    private let state = Mutex(State())

    /// TLS roots (PEM) of orderer organizations whose orderers forward Broadcast to this one.
    var clientTLSRoots: [String] { state.withLock { $0.clientTLSRoots } }

    func acceptClients(withRoots roots: [String]) { state.withLock { $0.clientTLSRoots += roots } }

    /// The etcd client, made by `make` the first time.
    func etcd(_ make: () throws -> EtcdClient) throws -> EtcdClient {
        if let client = state.withLock({ $0.etcd }) { return client }
        let client = try make()
        state.withLock { $0.etcd = client }
        return client
    }

    func close() async {
        await state.withLock { $0.etcd }?.close()
    }
}

/// A consensus type a channel's configuration can name (`ConsensusType`): what the orderer's
/// configuration must hold for it, and how it makes the channel's chain over the front half all
/// chains share (`BlockBatcher`). The orderer knows the types registered in
/// `OrdererNode.consensusTypes`; a channel naming another is refused with their names.
struct ConsensusType: Sendable {
    let name: String
    /// Refuses an orderer configuration that cannot serve a channel of this type (checked before
    /// the channel's ledger is created).
    let check: @Sendable (OrdererConfiguration, ChannelConfig, URL) throws -> Void
    let makeChain: @Sendable (ChainMaking, SharedConsensusResources) throws -> any OrderingChain

    /// One orderer orders every envelope it accepts.
    static let solo = ConsensusType(name: SoloChain.consensusType, check: { _, _, _ in }) { making, _ in
        SoloChain(
            settings: making.settings, lastConfigNumber: making.lastConfigNumber, blockStore: making.blockStore, signer: making.signer, logger: making.logger,
            onBlockStored: making.onBlockStored)
    }

    /// Several orderers share an etcd cluster as the replicated log (`EtcdChain`).
    static let etcd = ConsensusType(
        name: EtcdChain.consensusType,
        check: { configuration, channel, genesisFile in
            guard configuration.etcd != nil else {
                throw ConfigError(
                    .missingField, file: configuration.sourceFile, line: nil, field: "etcd.endpoints",
                    reason: "channel '\(channel.channelID)' (genesis block \(genesisFile.lastPathComponent)) is ordered by consensus etcd, "
                        + "but this orderer has no etcd cluster: add etcd: { endpoints: [host:port, ...] }")
            }
        }
    ) { making, shared in
        let configuration = making.configuration
        guard let settings = configuration.etcd else {
            throw ConfigError(.missingField, file: configuration.sourceFile, line: nil, field: "etcd.endpoints", reason: "no etcd cluster configured")
        }
        let client = try shared.etcd {
            let tls = MutualTLS(
                certificate: settings.tls.certificate ?? configuration.tlsCertificate, privateKey: settings.tls.privateKey ?? configuration.tlsPrivateKey,
                trustedCAs: settings.tls.rootCAs)
            do {
                return try EtcdClient(endpoints: settings.endpoints, tls: tls, logger: making.logger)
            } catch {
                throw ConfigError(.invalidValue, file: configuration.sourceFile, line: nil, field: "etcd", reason: "\(error)")
            }
        }
        let roots = try making.channel.ordererOrganizations.flatMap { try $0.tlsRootCertificates.map { try $0.serializeAsPEM().pemString } }
        shared.acceptClients(withRoots: roots)
        let forwardingTLS = MutualTLS(
            certificate: configuration.tlsCertificate, privateKey: configuration.tlsPrivateKey, trustedCAs: configuration.tlsClientRootCAs,
            trustedCAPEMs: roots)
        let (metrics, channelID) = (making.metrics, making.channel.channelID)
        metrics.setLeader(channel: channelID, leading: false)
        return EtcdChain(
            settings: making.settings, lastConfigNumber: making.lastConfigNumber, genesisHash: making.genesis.header.hash, blockStore: making.blockStore, signer: making.signer, etcd: client,
            member: settings.advertisedEndpoint, leaders: TLSLeaderConnections(tls: forwardingTLS, logger: making.logger), timing: making.timing.leasing(seconds: settings.leaseSeconds),
            logger: making.logger, onBlockStored: making.onBlockStored,
            onLeadershipChange: { leading in metrics.setLeader(channel: channelID, leading: leading) })
    }
}

extension OrdererNode {
    /// The consensus types this orderer orders channels with, by the name a channel gives.
    static let consensusTypes: [String: ConsensusType] = Dictionary(uniqueKeysWithValues: [ConsensusType.solo, .etcd].map { ($0.name, $0) })
}
