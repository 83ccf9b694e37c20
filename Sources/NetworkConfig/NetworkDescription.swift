import Foundation
import Identity

/// The network described by `network-config/network.yaml`: organizations with their nodes and
/// users, the etcd cluster the orderers use, and the channels.
package struct NetworkDescription: Sendable, Equatable {
    package var name: String
    /// Validity of generated certificates, in days.
    package var certificateValidityDays: Int
    package var organizations: [Organization]
    package var etcdMembers: [EtcdMember]
    package var channels: [Channel]

    package struct Organization: Sendable, Equatable {
        package var name: String
        package var mspID: String
        package var domain: String
        package var orderers: [Node]
        package var peers: [Node]
        package var admins: [User]
        package var users: [User]

        package var isOrdererOrganization: Bool { !orderers.isEmpty }
    }

    package struct Node: Sendable, Equatable {
        package var name: String
        /// Address the node listens on and others dial.
        package var host: String
        package var port: Int
        /// Port of the operations endpoint (metrics, /healthz).
        package var operationsPort: Int
        /// Extra host names for the TLS certificate (localhost and 127.0.0.1 are always included).
        package var extraHosts: [String]
    }

    package struct User: Sendable, Equatable {
        package var name: String
        /// Healthcare attributes (see `HealthcareAttributeRules`).
        package var attributes: [String: String]
    }

    package struct EtcdMember: Sendable, Equatable {
        package var name: String
        /// Address the member listens on and the orderers and other members dial.
        package var host: String
        package var clientPort: Int
        package var peerPort: Int
    }

    package struct Channel: Sendable, Equatable {
        package var name: String
        package var organizations: [String]
        /// Default endorsement policy for chaincodes, in Fabric's syntax (already parsed once).
        package var endorsementPolicy: String
        package var consensus: Consensus
        package var batch: BatchSettings
        /// Medrex's ordering switches, which every orderer of the channel applies alike.
        package var ordering = OrderingSwitches()
    }

    /// How a channel's orderers cut blocks beyond Fabric's batch settings; in the channel
    /// configuration (the ConsensusType value's metadata), so that every orderer cuts the same
    /// blocks.
    package struct OrderingSwitches: Sendable, Equatable, Hashable {
        /// Reorder each block by its transactions' read/write dependencies (network.yaml channel
        /// `reorderBlocks: true`).
        package var reorderBlocks = false
        /// Also cut a block when no envelope arrived for this long (channel `batch.idleTimeout`).
        package var idleTimeoutMilliseconds: Int?

        package init(reorderBlocks: Bool = false, idleTimeoutMilliseconds: Int? = nil) {
            self.reorderBlocks = reorderBlocks
            self.idleTimeoutMilliseconds = idleTimeoutMilliseconds
        }
    }

    package enum Consensus: String, Sendable, Equatable {
        case solo
        case etcd
    }

    package struct BatchSettings: Sendable, Equatable, Hashable {
        package var maxMessageCount: Int
        package var absoluteMaxBytes: Int
        package var preferredMaxBytes: Int
        package var timeoutMilliseconds: Int

        package init(maxMessageCount: Int, absoluteMaxBytes: Int, preferredMaxBytes: Int, timeoutMilliseconds: Int) {
            self.maxMessageCount = maxMessageCount
            self.absoluteMaxBytes = absoluteMaxBytes
            self.preferredMaxBytes = preferredMaxBytes
            self.timeoutMilliseconds = timeoutMilliseconds
        }
    }

    package func organization(named name: String) -> Organization? { organizations.first { $0.name == name } }

    /// The orderer of every solo channel: the first orderer of the first orderer organization
    /// (a solo channel is ordered by one process; its genesis block lists only this endpoint).
    package var soloOrderer: Node? { organizations.first(where: \.isOrdererOrganization)?.orderers.first }
}

extension NetworkDescription.Node {
    /// Fully qualified name: `peer0.hospital-a.medrex.example`.
    package func qualifiedName(in organization: NetworkDescription.Organization) -> String { "\(name).\(organization.domain)" }
}

extension NetworkDescription.User {
    /// Enrollment name: `alice@hospital-a.medrex.example`.
    package func qualifiedName(in organization: NetworkDescription.Organization) -> String { "\(name)@\(organization.domain)" }
}
