import RPCTransport
import BuiltInChaincodes
import Chaincode
import Endorser
import Foundation
import LedgerCore
import Orderer
import GRPCCore
import GRPCNIOTransportHTTP2
import Identity
import LedgerWire
import Logging
import NetworkConfig
import Operations
import SwiftProtobuf
import Synchronization
import WorldState

/// A peer process: its ledgers, its chaincodes and its gRPC services over mutual TLS. The endorser
/// role serves `protos.Endorser`; the committer role pulls each channel's blocks from the ordering
/// service and validates and commits them (`ChannelCommitter`).
package final class PeerNode: Sendable {
    package let configuration: PeerConfiguration
    private let ledgers: [String: Ledger]
    package let endorser: EndorsementService
    private let logger: Logger
    package let metrics = PeerMetrics()
    /// Commit outcomes of each channel's transactions, for waiters such as the gateway.
    package let notifiers: [String: CommitNotifier]
    private let committers: [ChannelCommitter]
    private let broadcasters: [OrdererBroadcaster]
    /// Each channel's committed blocks, served by the peer's Deliver service.
    private let channelBlocks: [String: ChannelBlocks]
    /// The Fabric-compatible gateway; served when the peer both endorses and commits.
    package let gateway: Gateway?

    /// `builtInChaincodes` ship with the node and are registered without dlopen; a channel's
    /// other chaincodes are plugins installed in the data directory.
    package init(
        configuration: PeerConfiguration, builtInChaincodes: [String: any Contract] = [:], logger: Logger = Logger(label: "medrex.peer")
    ) throws {
        self.configuration = configuration
        self.logger = logger
        let signer = try CryptoMaterialLoader.loadSigningIdentity(CryptoMaterialLayout.MSPFolder(directory: configuration.msp), mspID: configuration.mspID)
        var providers: [String: MembershipServiceProvider] = [:]
        var ledgers: [String: Ledger] = [:]
        var resources: [String: ChannelEndorsementResources] = [:]
        var notifiers: [String: CommitNotifier] = [:]
        var committers: [ChannelCommitter] = []
        var gatewayChannels: [String: GatewayChannel] = [:]
        var channelBlocks: [String: ChannelBlocks] = [:]
        var broadcasters: [OrdererBroadcaster] = []
        for channel in configuration.channels {
            let genesis: Common_Block
            do {
                genesis = try Common_Block(serializedBytes: try Data(contentsOf: channel.genesis))
            } catch {
                throw ConfigError(.unreadable, file: channel.genesis.path, line: nil, field: "", reason: "not a readable genesis block: \(error)")
            }
            let config = try ChannelConfig(block: genesis)
            for organization in config.applicationOrganizations + config.ordererOrganizations where providers[organization.mspID] == nil {
                providers[organization.mspID] = try MembershipServiceProvider(organization.msp)
            }
            let ledger = try Ledger(directory: configuration.ledgerDirectory(channel: config.channelID), logger: logger)
            if ledger.height == 0 {
                try ledger.commit(genesis)
            } else if try ledger.blockStore.block(number: 0)?.header.hash != genesis.header.hash {
                throw ConfigError(.invalidValue, file: channel.genesis.path, line: nil, field: "", reason: "the ledger on disk was started from another genesis block")
            }
            ledgers[config.channelID] = ledger
            var chaincodes: [String: (version: String, contract: any Contract)] = [:]
            for chaincode in channel.chaincodes {
                if let builtIn = builtInChaincodes[chaincode.name] {
                    chaincodes[chaincode.name] = (chaincode.version, builtIn)
                } else {
                    let path = configuration.chaincodeDirectory.appendingPathComponent("\(chaincode.name).so").path
                    chaincodes[chaincode.name] = (chaincode.version, try ChaincodePluginLoader.load(path: path))
                }
                logger.info("chaincode ready", metadata: ["channel": "\(config.channelID)", "chaincode": "\(chaincode.name)", "version": "\(chaincode.version)"])
            }
            chaincodes[ChaincodeDefinition.namespace] = (
                ChaincodeDefinition.lifecycleVersion, LifecycleContract(organizations: config.applicationOrganizations.map(\.mspID)))
            resources[config.channelID] = ChannelEndorsementResources(
                state: ledger.state,
                history: { namespace, key in
                    try ledger.history(namespace: namespace, key: key).map {
                        KeyModification(transactionID: $0.transactionID, blockNumber: $0.version.blockNumber, transactionNumber: $0.version.transactionNumber, value: $0.value)
                    }
                },
                isCommitted: { txID in try ledger.blockStore.transactionLocation(txID) != nil },
                chaincodes: chaincodes)
            metrics.setHeight(channel: config.channelID, height: ledger.height)
            let blockStore = ledger.blockStore
            let notifier = CommitNotifier { txID in
                try blockStore.transactionLocation(txID).map { CommitOutcome(blockNumber: $0.blockNumber, validationCode: $0.validationCode) }
            }
            notifiers[config.channelID] = notifier
            let organizations = config.applicationOrganizations + config.ordererOrganizations
            let membership = MembershipRegistry(try organizations.map { try MembershipServiceProvider($0.msp) })
            let blocks = ChannelBlocks(
                ledger: ledger, signal: BlockHeightSignal(height: ledger.height), membership: membership,
                readers: .or(organizations.map { .signedBy(PolicyPrincipal(mspID: $0.mspID, kind: .member)) }))
            channelBlocks[config.channelID] = blocks
            if configuration.roles.contains(.committer) {
                let endpoints = config.ordererAddresses.compactMap(NodeAddress.init)
                let ordererTLS = MutualTLS(
                    certificate: configuration.tlsCertificate, privateKey: configuration.tlsPrivateKey, trustedCAs: [],
                    trustedCAPEMs: try config.ordererOrganizations.flatMap { try $0.tlsRootCertificates.map { try $0.serializeAsPEM().pemString } })
                let validator = BlockValidator(
                    membership: membership, lifecyclePolicy: config.lifecycleEndorsementPolicy, defaultPolicy: config.chaincodeEndorsementPolicy)
                committers.append(ChannelCommitter(
                    channelID: config.channelID, ledger: ledger,
                    verifier: BlockVerifier(membership: membership, blockValidationPolicy: config.blockValidationPolicy),
                    validator: validator, orderers: endpoints, tls: ordererTLS, signer: signer, notifier: notifier, signal: blocks.signal,
                    metrics: metrics, logger: logger))
                var remotePeers: [GatewayChannel.RemotePeer] = []
                for organization in config.applicationOrganizations where organization.mspID != configuration.mspID {
                    let peerTLS = MutualTLS(
                        certificate: configuration.tlsCertificate, privateKey: configuration.tlsPrivateKey, trustedCAs: [],
                        trustedCAPEMs: try organization.tlsRootCertificates.map { try $0.serializeAsPEM().pemString })
                    remotePeers += organization.anchorPeers.compactMap(NodeAddress.init).map {
                        GatewayChannel.RemotePeer(mspID: organization.mspID, endpoint: $0, tls: peerTLS)
                    }
                }
                let broadcaster = OrdererBroadcaster(endpoints: endpoints, tls: ordererTLS, logger: logger)
                broadcasters.append(broadcaster)
                gatewayChannels[config.channelID] = GatewayChannel(
                    remotePeers: remotePeers, broadcaster: broadcaster, validator: validator, state: ledger.state, notifier: notifier, blocks: blocks)
            }
        }
        self.ledgers = ledgers
        self.notifiers = notifiers
        self.committers = committers
        self.broadcasters = broadcasters
        self.channelBlocks = channelBlocks
        endorser = EndorsementService(signer: signer, membership: MembershipRegistry(Array(providers.values)), channels: resources)
        gateway = configuration.roles.contains(.endorser) && configuration.roles.contains(.committer)
            ? Gateway(endorser: endorser, channels: gatewayChannels, logger: logger) : nil
    }

    /// The TLS settings of the peer's server.
    package var tls: MutualTLS {
        MutualTLS(certificate: configuration.tlsCertificate, privateKey: configuration.tlsPrivateKey, trustedCAs: configuration.tlsClientRootCAs)
    }

    /// Serves until `beginShutdown()`; `onListening` gets the bound port (useful with port 0).
    /// Open RPCs finish before it returns; then the ledgers are closed.
    package func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: configuration.listenHost, port: configuration.listenPort),
            transportSecurity: tls.serverSecurity, config: ServerTransportSettings.posix)
        var services: [any RegistrableRPCService] = [PeerDeliverService(channels: channelBlocks)]
        if configuration.roles.contains(.endorser) { services.append(EndorserRPCService(endorser: endorser, metrics: metrics)) }
        if let gateway {
            services.append(GatewayRPCService(gateway: gateway))
            services.append(TransactionStreamService(gateway: gateway))
        }
        let server = GRPCServer(transport: transport, services: services)
        var operations: OperationsServer?
        if let endpoint = configuration.operations {
            let ledgerCount = ledgers.count
            operations = try await OperationsServer(
                host: endpoint.host, port: endpoint.port, registry: metrics.registry,
                checks: ["ledgers": { ledgerCount == 0 ? "no channel joined" : nil }])
            logger.notice("operations endpoint serving", metadata: ["port": "\(operations!.port)"])
        }
        let stopEarly = shutdownState.withLock { state -> Bool in
            state.server = server
            return state.requested
        }
        if stopEarly { server.beginGracefulShutdown() }
        let configuration = self.configuration
        let logger = self.logger
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                let address = try await transport.listeningAddress
                let port = address.ipv4?.port ?? address.ipv6?.port ?? configuration.listenPort
                logger.notice("peer serving", metadata: ["address": "\(configuration.listenHost):\(port)", "roles": "\(configuration.roles.map(\.rawValue))"])
                onListening(port)
            }
            for committer in committers {
                group.addTask { await committer.run() }
            }
            for broadcaster in broadcasters {
                group.addTask { await broadcaster.run() }
            }
            try await server.serve()
            // The server has stopped: stop pulling blocks; a block being committed finishes first.
            group.cancelAll()
        }
        await operations?.close()
        for ledger in ledgers.values { try? ledger.close() }
        logger.notice("peer stopped")
    }

    /// Stops accepting RPCs and lets `run` return once open ones finish (SIGTERM does this).
    package func beginShutdown() {
        let server = shutdownState.withLock { state -> GRPCServer<HTTP2ServerTransport.Posix>? in
            state.requested = true
            return state.server
        }
        server?.beginGracefulShutdown()
        // Commit-status calls wait for blocks that will not come: release them.
        for notifier in notifiers.values { notifier.stop() }
        for blocks in channelBlocks.values { blocks.signal.stop() }
    }

    private struct ShutdownState {
        var requested = false
        var server: GRPCServer<HTTP2ServerTransport.Posix>?
    }

    private let shutdownState = Mutex(ShutdownState())
}

