import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Identity
import Logging
import NetworkConfig
import RPCTransport
import Synchronization
import WorldState

/// An orderer process with the `solo` consensus: one chain per configured channel, served over
/// gRPC with mutual TLS.
package final class OrdererNode: Sendable {
    package let configuration: OrdererConfiguration
    private let chains: [String: SoloChain]
    private let ledgers: [Ledger]
    private let logger: Logger
    private let shutdownState = Mutex<(requested: Bool, server: GRPCServer<HTTP2ServerTransport.Posix>?)>((false, nil))

    package init(configuration: OrdererConfiguration, logger: Logger = Logger(label: "medrex.orderer")) throws {
        self.configuration = configuration
        self.logger = logger
        let signer = try CryptoMaterialLoader.loadSigningIdentity(CryptoMaterialLayout.MSPFolder(directory: configuration.msp), mspID: configuration.mspID)
        var chains: [String: SoloChain] = [:]
        var ledgers: [Ledger] = []
        for channel in configuration.channels {
            let providers = try channel.organizations.map { organization in
                try MembershipServiceProvider(CryptoMaterialLoader.loadMSP(CryptoMaterialLayout.MSPFolder(directory: organization.msp), mspID: organization.mspID))
            }
            let ledger = try Ledger(directory: configuration.ledgerDirectory(channel: channel.name), logger: logger)
            ledgers.append(ledger)
            let settings = ChannelOrderingSettings(
                channelID: channel.name, membership: MembershipRegistry(providers),
                writers: try EndorsementPolicy.parse(channel.writers), readers: try EndorsementPolicy.parse(channel.readers),
                batchLimits: BatchLimits(
                    maxMessageCount: channel.batch.maxMessageCount, absoluteMaxBytes: channel.batch.absoluteMaxBytes,
                    preferredMaxBytes: channel.batch.preferredMaxBytes),
                batchTimeout: .milliseconds(channel.batch.timeoutMilliseconds))
            chains[channel.name] = SoloChain(settings: settings, blockStore: ledger.blockStore, signer: signer, logger: logger)
        }
        self.chains = chains
        self.ledgers = ledgers
    }

    /// Serves until `beginShutdown()`.
    package func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let tls = MutualTLS(certificate: configuration.tlsCertificate, privateKey: configuration.tlsPrivateKey, trustedCAs: configuration.tlsClientRootCAs)
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: configuration.listenHost, port: configuration.listenPort), transportSecurity: tls.serverSecurity)
        let server = GRPCServer(transport: transport, services: [AtomicBroadcastService(chains: chains, clock: { Date() })])
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
                logger.notice("orderer serving", metadata: ["address": "\(configuration.listenHost):\(port)", "consensus": "solo"])
                onListening(port)
            }
            try await server.serve()
        }
        for ledger in ledgers { try? ledger.close() }
        logger.notice("orderer stopped")
    }

    package func beginShutdown() {
        let server = shutdownState.withLock { state -> GRPCServer<HTTP2ServerTransport.Posix>? in
            state.requested = true
            return state.server
        }
        server?.beginGracefulShutdown()
    }
}
