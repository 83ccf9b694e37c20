import BlockIntegrity
import RPCTransport
import ServiceLifecycle
import BuiltInChaincodes
import Chaincode
import Endorser
import Foundation
import LedgerCore
import GRPCCore
import GRPCNIOTransportHTTP2
import Identity
import LedgerWire
import Logging
import NetworkConfig
import OffChainStore
import Operations
import SwiftProtobuf
import Synchronization
import WorldState
import Committer
import GatewayService
import NodeClients
import PhiService

/// A peer process: its channels (ledgers, chaincodes) and its gRPC services over mutual TLS. The
/// endorser role serves `protos.Endorser`; the committer role pulls each channel's blocks from
/// the ordering service and validates and commits them (`ChannelCommitter`); with both roles the
/// peer also serves the gateway and the streaming API. Channels are joined at start (peer.yaml and
/// the channels joined earlier through `PeerAdmin`) and at run time (`join(genesis:chaincodes:)`).
package final class PeerNode: Sendable {
    package let configuration: PeerConfiguration
    let logger: Logger
    package let metrics = PeerMetrics()
    let signer: SigningIdentity
    private let builtInChaincodes: [String: any Contract]
    /// The peer's own organization, whose admins may administer it.
    let ownOrganization: MembershipServiceProvider

    /// One joined channel: everything the services and background tasks of the peer use.
    package struct JoinedChannel: Sendable {
        let ledger: Ledger
        /// What the channel's configuration decides (replaced at each config block).
        var providers: [MembershipServiceProvider]
        var resources: ChannelEndorsementResources
        var blocks: ChannelBlocks
        let notifier: CommitNotifier
        var gateway: GatewayChannel?
        /// The orderer endpoints (and their TLS roots) the channel's committer and broadcaster use.
        var ordererEndpoints: [String]
        var ordererTLSRoots: [String] = []
        /// The channel's committer and broadcaster (committer role), told when the orderers change.
        var committer: ChannelCommitter? = nil
        var broadcaster: OrdererBroadcaster? = nil
        /// Background work (committer, broadcaster), started when the peer runs.
        let tasks: [@Sendable () async -> Void]
    }

    /// What the services read; replaced as a whole when a channel is joined.
    package struct Services: Sendable {
        var channels: [String: JoinedChannel] = [:]
        var endorser: EndorsementService
        var gateway: Gateway?
        var blocks: [String: ChannelBlocks] { channels.mapValues(\.blocks) }
    }

    let services: Mutex<Services>
    /// Background tasks of channels joined after `run` started; `run` starts them.
    private let taskInbox: (stream: AsyncStream<@Sendable () async -> Void>, continuation: AsyncStream<@Sendable () async -> Void>.Continuation)
    private let joining = Mutex(false)
    /// The client CAs the server trusts: peer.yaml's and those of every joined channel's organizations.
    private let serverTrust = ServerTrust()
    /// The endorsements this peer signed, so its committer need not verify them again.
    private let ownSignatures = OwnSignatures()

    /// `builtInChaincodes` ship with the node and are registered without dlopen; a channel's
    /// other chaincodes are plugins installed in the data directory.
    package init(
        configuration: PeerConfiguration, builtInChaincodes: [String: any Contract] = [:], logger: Logger = Logger(label: "medrex.peer")
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.builtInChaincodes = builtInChaincodes
        let mspFolder = CryptoMaterialLayout.MSPFolder(directory: configuration.msp)
        signer = try CryptoMaterialLoader.loadNodeSigningIdentity(mspFolder, mspID: configuration.mspID, at: Date())
        ownOrganization = try MembershipServiceProvider(CryptoMaterialLoader.loadMSP(mspFolder, mspID: configuration.mspID))
        services = Mutex(Services(endorser: EndorsementService(signer: signer, membership: MembershipRegistry([]), channels: [:])))
        taskInbox = AsyncStream.makeStream(of: (@Sendable () async -> Void).self)
        for channel in configuration.channels {
            let genesis: Common_Block
            do {
                genesis = try Common_Block(serializedBytes: try Data(contentsOf: channel.genesis))
            } catch {
                throw ConfigError(.unreadable, file: channel.genesis.path, line: nil, field: "", reason: "not a readable genesis block: \(error)")
            }
            _ = try join(genesis: genesis, chaincodes: channel.chaincodes, source: channel.genesis.path, persist: false)
        }
        for joined in try JoinedChannelRecord.all(in: configuration.data) where !isJoined(joined.channelID) {
            _ = try join(genesis: joined.genesis, chaincodes: joined.chaincodes, source: joined.file.path, persist: false)
        }
    }

    private var currentServices: Services { services.withLock { $0 } }

    private func isJoined(_ channelID: String) -> Bool { services.withLock { $0.channels[channelID] != nil } }

    /// The channels joined and their heights.
    package var channels: [(channelID: String, height: UInt64, currentBlockHash: [UInt8])] {
        services.withLock { $0.channels }.sorted { $0.key < $1.key }.map { id, channel in
            let height = channel.ledger.height
            let hash = height == 0 ? [] : ((try? channel.ledger.blockStore.block(number: height - 1))??.header.hash ?? [])
            return (id, height, hash)
        }
    }

    /// The endorser as of now (it knows every channel joined so far).
    package var endorser: EndorsementService { services.withLock { $0.endorser } }

    /// Joins a channel from its genesis block: opens (or creates) its ledger, loads its chaincodes,
    /// and starts committing its blocks. With `persist`, the peer joins it again on every start.
    /// Refuses a channel joined already, and a ledger on disk started from another genesis block.
    @discardableResult
    package func join(
        genesis: Common_Block, chaincodes: [(name: String, version: String)], source: String = "JoinChannel", persist: Bool = true
    ) throws -> (channelID: String, height: UInt64) {
        // One join at a time, so two joins of one channel cannot both open its ledger.
        guard joining.withLock({ busy in busy ? false : { busy = true; return true }() }) else {
            throw ConfigError(.invalidValue, file: source, line: nil, field: "", reason: "another channel is being joined; try again")
        }
        defer { joining.withLock { $0 = false } }
        let config = try ChannelConfig(block: genesis)
        guard !isJoined(config.channelID) else {
            throw ConfigError(.invalidValue, file: source, line: nil, field: "", reason: "channel '\(config.channelID)' is joined already")
        }
        let channel = try makeChannel(config: config, genesis: genesis, chaincodes: chaincodes, source: source)
        if persist {
            do {
                try JoinedChannelRecord.write(genesis: genesis, channelID: config.channelID, chaincodes: chaincodes, in: configuration.data)
            } catch {
                try? channel.ledger.close()
                throw error
            }
        }
        services.withLock { services in
            services.channels[config.channelID] = channel
            rebuild(&services)
        }
        for task in channel.tasks { taskInbox.continuation.yield(task) }
        logger.notice("joined channel", metadata: ["channel": "\(config.channelID)", "height": "\(channel.ledger.height)"])
        return (config.channelID, channel.ledger.height)
    }

    /// The endorser and the gateway over the channels joined, after a join or a configuration change.
    private func rebuild(_ services: inout Services) {
        let providers = Dictionary(services.channels.values.flatMap(\.providers).map { ($0.mspID, $0) }, uniquingKeysWith: { first, _ in first })
        services.endorser = EndorsementService(
            signer: signer, membership: MembershipRegistry(Array(providers.values)), channels: services.channels.mapValues(\.resources),
            timestampSkew: TimeInterval(configuration.proposalTimestampSkewSeconds), ownSignatures: ownSignatures)
        let gatewayChannels = services.channels.compactMapValues(\.gateway)
        services.gateway = configuration.roles.contains(.endorser) && configuration.roles.contains(.committer)
            ? Gateway(endorser: services.endorser, channels: gatewayChannels, logger: logger) : nil
    }

    /// What a channel configuration decides on this peer: who is a member (MSPs with their CAs
    /// and CRLs), who may propose and read, the policies blocks and transactions are validated
    /// under, and the other organizations' peers the gateway asks.
    private struct ConfiguredParts {
        let providers: [MembershipServiceProvider]
        let membership: MembershipRegistry
        let writers: EndorsementPolicy
        let readers: EndorsementPolicy
        let blockReaders: EndorsementPolicy
        let verifier: BlockVerifier
        let validator: BlockValidator
        /// The anchor peers of the other organizations: (MSP id, endpoint, TLS).
        let remotePeers: [(mspID: String, endpoint: NodeAddress, tls: MutualTLS)]
    }

    private func configuredParts(_ config: ChannelConfig) throws -> ConfiguredParts {
        let organizations = config.applicationOrganizations + config.ordererOrganizations
        let providers = try organizations.map { try MembershipServiceProvider($0.msp) }
        let membership = MembershipRegistry(providers)
        var validator = BlockValidator(
            channelID: config.channelID, membership: membership, lifecyclePolicy: config.lifecycleEndorsementPolicy, defaultPolicy: config.chaincodeEndorsementPolicy,
            own: OwnEndorsements(identity: signer.serialized, signatures: ownSignatures))
        validator.configurationCheck = { transaction in
            _ = try ConfigUpdateProcessor(current: config).verify(
                try ConfigUpdateProcessor.configEnvelope(of: transaction), at: transaction.channelHeader.timestamp.instant)
        }
        var remotePeers: [(mspID: String, endpoint: NodeAddress, tls: MutualTLS)] = []
        for organization in config.applicationOrganizations where organization.mspID != configuration.mspID {
            let peerTLS = MutualTLS(
                certificate: configuration.tlsCertificate, privateKey: configuration.tlsPrivateKey, trustedCAs: [],
                trustedCAPEMs: try organization.tlsRootCertificates.map { try $0.serializeAsPEM().pemString })
            remotePeers += organization.anchorPeers.compactMap(NodeAddress.init).map { (organization.mspID, $0, peerTLS) }
        }
        return ConfiguredParts(
            providers: providers, membership: membership,
            writers: .or(config.applicationOrganizations.map { .signedBy(PolicyPrincipal(mspID: $0.mspID, kind: .member)) }),
            readers: .or(organizations.map { .signedBy(PolicyPrincipal(mspID: $0.mspID, kind: .member)) }),
            blockReaders: config.blockReadersPolicy,
            verifier: BlockVerifier(membership: membership, blockValidationPolicy: config.blockValidationPolicy),
            validator: validator, remotePeers: remotePeers)
    }

    /// Puts the configuration of a valid config block of `channelID` to use: the channel's
    /// members, policies and anchor peers for endorsement, the gateway and Deliver; returns the
    /// checks its committer uses from the next block on.
    private func reconfigure(channelID: String, block: Common_Block) throws -> BlockCommitter.ConfiguredChecks {
        let config = try ChannelConfig(block: block)
        let parts = try configuredParts(config)
        try serverTrust.setChannel(channelID, rootPEMs: config.tlsRootCertificatePEMs)
        let logger = logger
        services.withLock { services in
            guard var channel = services.channels[channelID] else { return }
            channel.providers = parts.providers
            // `_lifecycle` counts approvals among the organizations of the new configuration.
            let old = channel.resources
            var chaincodes = old.chaincodes
            chaincodes[ChaincodeDefinition.namespace] = (
                ChaincodeDefinition.lifecycleVersion, LifecycleContract(organizations: config.applicationOrganizations.map(\.mspID)))
            channel.resources = ChannelEndorsementResources(state: old.state, history: old.history, isCommitted: old.isCommitted, chaincodes: chaincodes)
            channel.resources.membership = parts.membership
            channel.resources.writers = parts.writers
            channel.blocks = ChannelBlocks(
                ledger: channel.ledger, signal: channel.blocks.signal, membership: parts.membership, readers: parts.readers, blockReaders: parts.blockReaders)
            if let gateway = channel.gateway {
                // Connections to anchor peers that stay are kept; those of peers that left are closed.
                var kept = gateway.remotePeers
                let remotePeers = parts.remotePeers.map { wanted in
                    if let index = kept.firstIndex(where: { $0.mspID == wanted.mspID && $0.endpoint == wanted.endpoint }) { return kept.remove(at: index) }
                    return GatewayChannel.RemotePeer(mspID: wanted.mspID, endpoint: wanted.endpoint, tls: wanted.tls)
                }
                for gone in kept { gone.connection.close() }
                channel.gateway = GatewayChannel(
                    remotePeers: remotePeers, submitter: gateway.submitter, validator: parts.validator, state: gateway.state, notifier: gateway.notifier,
                    blocks: channel.blocks, precheck: gateway.precheck)
            }
            let ordererRoots = config.ordererOrganizations.flatMap { $0.tlsRootCertificates.compactMap { try? $0.serializeAsPEM().pemString } }
            if config.ordererAddresses != channel.ordererEndpoints || ordererRoots != channel.ordererTLSRoots {
                // Blocks and broadcasts go to the orderers of the new configuration from the next stream on.
                let endpoints = config.ordererAddresses.compactMap(NodeAddress.init)
                let ordererTLS = ordererClientTLS(roots: ordererRoots)
                channel.committer?.use(sources: endpoints.map { DeliverBlockSource(endpoint: $0, tls: ordererTLS, signer: signer) })
                channel.broadcaster?.use(endpoints: endpoints, tls: ordererTLS)
                channel.ordererEndpoints = config.ordererAddresses
                channel.ordererTLSRoots = ordererRoots
                logger.notice("the channel's orderers changed", metadata: ["channel": "\(channelID)", "endpoints": "\(config.ordererAddresses)"])
            }
            services.channels[channelID] = channel
            rebuild(&services)
        }
        return BlockCommitter.ConfiguredChecks(verifier: parts.verifier, validator: parts.validator)
    }

    private func makeChannel(
        config genesisConfig: ChannelConfig, genesis: Common_Block, chaincodes installed: [(name: String, version: String)], source: String
    ) throws -> JoinedChannel {
        var config = genesisConfig
        var chaincodes: [String: (version: String, contract: any Contract)] = [:]
        for chaincode in installed {
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
        let ledger = try Ledger(directory: configuration.ledgerDirectory(channel: config.channelID), logger: logger)
        do {
            if ledger.height == 0 {
                try ledger.commit(genesis)
            } else if try ledger.blockStore.block(number: 0)?.header.hash != genesis.header.hash {
                throw ConfigError(.invalidValue, file: source, line: nil, field: "", reason: "the ledger on disk was started from another genesis block")
            }
            // The configuration as of the last config block committed (the genesis block's at first).
            config = try ChannelConfig.latest(height: ledger.height) { try ledger.blockStore.block(number: $0) }.config
        } catch {
            try? ledger.close()
            throw error
        }
        let parts = try configuredParts(config)
        try serverTrust.setChannel(config.channelID, rootPEMs: config.tlsRootCertificatePEMs)
        let membership = parts.membership
        var resources = ChannelEndorsementResources(
            state: ledger.state,
            history: { namespace, key in
                try ledger.history(namespace: namespace, key: key).map {
                    KeyModification(transactionID: $0.transactionID, blockNumber: $0.version.blockNumber, transactionNumber: $0.version.transactionNumber, value: $0.value)
                }
            },
            isCommitted: { txID in try ledger.blockStore.transactionLocation(txID) != nil },
            chaincodes: chaincodes)
        resources.membership = membership
        resources.writers = parts.writers
        metrics.setHeight(channel: config.channelID, height: ledger.height)
        let notifier = CommitNotifier { txID in
            try ledger.committedTransaction(txID).map { CommitOutcome(blockNumber: $0.blockNumber, validationCode: $0.validationCode) }
        }
        let blocks = ChannelBlocks(
            ledger: ledger, signal: BlockHeightSignal(height: ledger.height), membership: membership, readers: parts.readers, blockReaders: parts.blockReaders)
        guard configuration.roles.contains(.committer) else {
            return JoinedChannel(
                ledger: ledger, providers: parts.providers, resources: resources, blocks: blocks, notifier: notifier, gateway: nil,
                ordererEndpoints: config.ordererAddresses, tasks: [])
        }
        let endpoints = config.ordererAddresses.compactMap(NodeAddress.init)
        let ordererRoots = try config.ordererOrganizations.flatMap { try $0.tlsRootCertificates.map { try $0.serializeAsPEM().pemString } }
        let ordererTLS = ordererClientTLS(roots: ordererRoots)
        let validator = parts.validator
        let channelID = config.channelID
        let committer = ChannelCommitter(
            committer: BlockCommitter(
                channelID: channelID, ledger: ledger, verifier: parts.verifier, validator: validator, notifier: notifier, signal: blocks.signal,
                metrics: metrics, logger: logger,
                reconfigure: { [weak self] block in
                    guard let self else { throw CancellationError() }
                    return try self.reconfigure(channelID: channelID, block: block)
                }),
            sources: endpoints.map { DeliverBlockSource(endpoint: $0, tls: ordererTLS, signer: signer) }, logger: logger)
        let remotePeers = parts.remotePeers.map { GatewayChannel.RemotePeer(mspID: $0.mspID, endpoint: $0.endpoint, tls: $0.tls) }
        let broadcaster = OrdererBroadcaster(endpoints: endpoints, tls: ordererTLS, logger: logger)
        var gateway = GatewayChannel(
            remotePeers: remotePeers, submitter: TransactionSubmitter(broadcaster: broadcaster, notifier: notifier, logger: logger), validator: validator,
            state: ledger.state, notifier: notifier, blocks: blocks)
        if configuration.earlyAbort { gateway.precheck = ReadConflictPrecheck() }
        return JoinedChannel(
            ledger: ledger, providers: parts.providers, resources: resources, blocks: blocks, notifier: notifier, gateway: gateway,
            ordererEndpoints: config.ordererAddresses, ordererTLSRoots: ordererRoots, committer: committer, broadcaster: broadcaster,
            tasks: [{ await committer.run() }, { await broadcaster.run() }])
    }

    /// The TLS this peer reaches a channel's orderers with: its own pair, trusting `roots` (PEM).
    private func ordererClientTLS(roots: [String]) -> MutualTLS {
        MutualTLS(certificate: configuration.tlsCertificate, privateKey: configuration.tlsPrivateKey, trustedCAs: [], trustedCAPEMs: roots)
    }

    /// Validates an admin request: signed by an admin of the peer's own organization, recently.
    package func checkAdmin(_ signed: Medrex_SignedAdminRequest, now: Date) throws(AdminRequestError) -> Medrex_AdminRequest {
        let request: Medrex_AdminRequest
        do {
            request = try Medrex_AdminRequest(serializedBytes: signed.request)
        } catch {
            throw AdminRequestError(.malformed, "admin request refused: it is not a medrex.AdminRequest")
        }
        let admin: ValidatedIdentity
        do {
            admin = try ownOrganization.validate(serializedIdentity: request.identity, as: .admin, at: now)
            try SignatureVerifier.verify(signature: signed.signature, over: signed.request, publicKey: admin.publicKey)
        } catch {
            throw AdminRequestError(.notAnAdmin, "admin request refused: \(error.reason)")
        }
        guard abs(request.timestamp.instant.timeIntervalSince(now)) <= Limits.proposalTimestampSkewDefault else {
            throw AdminRequestError(.stale, "admin request refused: its timestamp is more than 5 minutes from the peer's clock")
        }
        return request
    }

    /// The TLS settings of the peer's server.
    package var tls: MutualTLS {
        MutualTLS(
            certificate: configuration.tlsCertificate, privateKey: configuration.tlsPrivateKey, trustedCAs: configuration.tlsClientRootCAs,
            options: configuration.tlsOptions)
    }

    /// The peer's parts, in start order: its ledgers (closed last), the PHI service (its sweeper,
    /// then its store), every channel's committer and broadcaster (channels joined later too), its
    /// operations endpoint and its RPC server (stopped first: open RPCs finish before the rest stops).
    func parts() async throws -> [any Service] {
        let transport = try NodeServerTransport(
            host: configuration.listenHost, port: configuration.listenPort, tls: tls, context: try serverTrust.makeContext(base: tls))
        let current: @Sendable () -> Services = { self.currentServices }
        var rpcServices: [any RegistrableRPCService] = [
            PeerDeliverService(channels: { current().blocks }),
            PeerAdminService(node: self),
        ]
        if configuration.roles.contains(.endorser) {
            var endorser = EndorserRPCService(endorser: { current().endorser }, metrics: metrics)
            endorser.systemChaincodes = { [weak self] proposal in self?.processSystemProposal(proposal) }
            rpcServices.append(endorser)
            rpcServices.append(EndorsementStreamService(endorser: endorser, shutdown: stop.signal))
        }
        if configuration.roles.contains(.endorser) && configuration.roles.contains(.committer) {
            // Before the first channel is joined there is no gateway: a gateway of no channels
            // answers every call with "channel not found" instead.
            let logger = logger
            let gateway: @Sendable () -> Gateway = {
                let services = current()
                return services.gateway ?? Gateway(endorser: services.endorser, channels: [:], logger: logger)
            }
            rpcServices.append(GatewayRPCService(gateway: gateway))
            rpcServices.append(TransactionStreamService(gateway: gateway, shutdown: stop.signal))
        }
        var phi: (service: PhiRecordService, close: @Sendable () async -> Void)?
        if let settings = configuration.phi {
            phi = try await PhiRecordService.open(
                settings: settings, dataDirectory: configuration.data, mspID: configuration.mspID, signer: signer, metrics: metrics, logger: logger
            ) {
                let services = current()
                guard let channel = services.channels[settings.channel], let gateway = services.gateway else { return nil }
                return PhiRecordService.Channel(blocks: channel.blocks, notifier: channel.notifier, gateway: gateway)
            }
            rpcServices.append(PhiRecordsRPCService(service: phi!.service))
            logger.notice("PHI records service ready", metadata: ["channel": "\(settings.channel)"])
        }
        let server = GRPCServer(transport: transport, services: rpcServices)
        var operations: OperationsServer?
        if let endpoint = configuration.operations {
            operations = try await OperationsServer(
                host: endpoint.host, port: endpoint.port, registry: metrics.registry,
                checks: ["ledgers": { current().channels.isEmpty ? "no channel joined" : nil }])
            logger.notice("operations endpoint serving", metadata: ["port": "\(operations!.port)"])
        }
        let expiry = certificateExpiry
        let (configuration, logger, stop, inbox, operationsServer, phiService) = (self.configuration, self.logger, self.stop, taskInbox.stream, operations, phi)
        return [
            ReleasedPart("ledgers") {
                for channel in current().channels.values { try? channel.ledger.close() }
                logger.notice("peer stopped")
            },
            BackgroundPart("phi") {
                guard let service = phiService?.service else { return }
                // Pending versions, key re-wrapping after a rotation and retention erasures (one
                // peer per store for each, by lease), and erasures to carry out in the store.
                let holder = "\(configuration.mspID) \(configuration.listenHost):\(configuration.listenPort)"
                await withDiscardingTaskGroup { jobs in
                    jobs.addTask { await service.sweepPending() }
                    jobs.addTask { await service.rewrapKeys(holder: holder) }
                    jobs.addTask { await service.sweepErasures() }
                    jobs.addTask { await service.enforceRetentionRules(holder: holder) }
                }
            } afterwards: {
                await phiService?.close()
            },
            // Committers and broadcasters of every channel: stop pulling blocks once the server has
            // stopped (a block being committed finishes first).
            BackgroundPart("channels") {
                await withDiscardingTaskGroup { tasks in
                    for await task in inbox { tasks.addTask { await task() } }
                }
            },
            BackgroundPart("certificate expiry") { await expiry.run() },
            ReleasedPart("operations endpoint") { await operationsServer?.close() },
            RPCServerPart(server: server, transport: transport, stop: stop) { port in
                logger.notice("peer serving", metadata: ["address": "\(configuration.listenHost):\(port)", "roles": "\(configuration.roles.map(\.rawValue))"])
            } onShutdown: {
                self.releaseWaiters()
            },
        ]
    }

    /// The certificates this peer uses, watched for expiry (`medrex_certificate_expiry_seconds`).
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

    /// Shuts the peer down gracefully, as SIGTERM does: stop accepting RPCs, finish open ones,
    /// stop the channels' work, close the PHI store and the ledgers.
    package func beginShutdown() {
        partsGroup.shutDown()
    }

    /// Stops accepting RPCs; releases the calls that wait for blocks or answers that will not come.
    private func releaseWaiters() {
        // The streams other peers' gateways and clients keep open end, so that the server drains.
        stop.request()
        // Commit-status and Deliver calls wait for blocks that will not come: release them.
        for channel in services.withLock({ $0.channels.values }) {
            channel.notifier.stop()
            channel.blocks.signal.stop()
            for peer in channel.gateway?.remotePeers ?? [] { peer.connection.close() }
        }
    }

    private let stop = GracefulServerStop()
    /// The group of the running parts, which `beginShutdown` shuts down.
    let partsGroup = DaemonPartsGroup()
}

