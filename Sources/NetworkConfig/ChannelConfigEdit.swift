import Foundation
import Identity
import LedgerWire
import SwiftProtobuf

/// One change an administrator makes to a channel configuration (`medrex channel update`): the
/// edited tree is compared with the current one (`ConfigUpdateBuilding.computeUpdate`) to make the
/// update the admins sign.
package enum ChannelConfigEdit: Sendable {
    /// Adds an application organization from its MSP folder (`cacerts`, `tlscacerts`, `crls`),
    /// with its anchor peers (`host:port`).
    case addOrganization(mspID: String, msp: CryptoMaterialLayout.MSPFolder, anchorPeers: [String])
    /// Removes an application organization.
    case removeOrganization(mspID: String)
    /// Replaces an organization's CRLs (PEM).
    case setRevocationLists(mspID: String, pems: [String])
    /// Adds a root CA certificate (PEM) to an organization's MSP (CA rotation: add the new, later
    /// remove the old).
    case addRootCertificate(mspID: String, pem: String)
    case removeRootCertificate(mspID: String, pem: String)
    /// Adds or removes a TLS root CA certificate (PEM) of an organization.
    case addTLSRootCertificate(mspID: String, pem: String)
    case removeTLSRootCertificate(mspID: String, pem: String)
    /// Sets the endpoints (`host:port`) of an orderer organization's orderers.
    case setOrdererEndpoints(mspID: String, endpoints: [String])
    /// Changes Medrex's ordering switches (nil: unchanged; an idle timeout of 0 turns it off).
    case setOrdering(reorderBlocks: Bool?, idleTimeoutMilliseconds: Int?)
    /// Changes the orderer's batch settings (nil: unchanged).
    case setBatch(maxMessageCount: Int?, absoluteMaxBytes: Int?, preferredMaxBytes: Int?, timeoutMilliseconds: Int?)

    /// Applies the edit to the channel group `root`.
    package func apply(to root: inout Common_ConfigGroup) throws(ConfigError) {
        switch self {
        case .addOrganization(let mspID, let msp, let anchorPeers):
            guard root.groups["Application"] != nil else { throw Self.fail("the configuration has no Application group") }
            guard Self.organizationKey(mspID, in: root) == nil else { throw Self.fail("organization \(mspID) is a member already") }
            var group: Common_ConfigGroup
            do {
                group = try ChannelGenesis.organizationGroup(mspID: mspID, msp: msp)
            } catch {
                throw ConfigError(.unreadable, file: msp.directory.path, line: nil, field: "", reason: "the MSP folder of \(mspID) cannot be read: \(error)")
            }
            if !anchorPeers.isEmpty {
                var anchors = Protos_AnchorPeers()
                for address in anchorPeers {
                    let parts = address.split(separator: ":")
                    guard parts.count == 2, let port = Int32(parts[1]), (1...65535).contains(port) else {
                        throw Self.fail("anchor peer '\(address)' is not host:port")
                    }
                    var anchor = Protos_AnchorPeer()
                    anchor.host = String(parts[0])
                    anchor.port = port
                    anchors.anchorPeers.append(anchor)
                }
                group.values["AnchorPeers"] = Self.value((try? anchors.serializedData()) ?? Data())
            }
            root.groups["Application"]!.groups[mspID] = group
        case .removeOrganization(let mspID):
            guard let (section, key) = Self.organizationKey(mspID, in: root) else { throw Self.fail("no organization \(mspID) in the configuration") }
            guard section == "Application" else { throw Self.fail("\(mspID) is an orderer organization; removing one is not supported here") }
            root.groups[section]!.groups[key] = nil
        case .setRevocationLists(let mspID, let pems):
            for pem in pems {
                guard (try? CertificateRevocationList(pemEncoded: pem)) != nil else { throw Self.fail("a CRL for \(mspID) is not a PEM X.509 CRL") }
            }
            try Self.editMSP(mspID, in: &root) { $0.revocationList = pems.map { Data($0.utf8) } }
        case .addRootCertificate(let mspID, let pem):
            try Self.editMSP(mspID, in: &root) { $0.rootCerts.append(Data(pem.utf8)) }
        case .removeRootCertificate(let mspID, let pem):
            try Self.editMSP(mspID, in: &root) { msp in msp.rootCerts.removeAll { Self.samePEM($0, pem) } }
        case .addTLSRootCertificate(let mspID, let pem):
            try Self.editMSP(mspID, in: &root) { $0.tlsRootCerts.append(Data(pem.utf8)) }
        case .removeTLSRootCertificate(let mspID, let pem):
            try Self.editMSP(mspID, in: &root) { msp in msp.tlsRootCerts.removeAll { Self.samePEM($0, pem) } }
        case .setOrdererEndpoints(let mspID, let endpoints):
            guard let (section, key) = Self.organizationKey(mspID, in: root), section == "Orderer" else {
                throw Self.fail("no orderer organization \(mspID) in the configuration")
            }
            for endpoint in endpoints {
                let parts = endpoint.split(separator: ":")
                guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) else {
                    throw Self.fail("orderer endpoint '\(endpoint.prefix(64))' is not host:port")
                }
            }
            var addresses = Common_OrdererAddresses()
            addresses.addresses = endpoints
            root.groups["Orderer"]!.groups[key]!.values["Endpoints", default: Self.value(Data())].value = (try? addresses.serializedData()) ?? Data()
        case .setOrdering(let reorder, let idle):
            guard var orderer = root.groups["Orderer"], var consensus = orderer.values["ConsensusType"].flatMap({ try? Orderer_ConsensusType(serializedBytes: $0.value) }),
                var ordering = ChannelConfig.ordering(metadata: consensus.metadata)
            else { throw Self.fail("the configuration has no Orderer ConsensusType with Medrex ordering switches") }
            if let reorder { ordering.reorderBlocks = reorder }
            if let idle {
                guard idle >= 0, idle <= 60_000 else { throw Self.fail("the idle timeout must be between 0 (off) and 60000 ms") }
                ordering.idleTimeoutMilliseconds = idle == 0 ? nil : idle
            }
            do {
                consensus.metadata = try ChannelConfig.orderingMetadata(ordering)
                orderer.values["ConsensusType"]!.value = try consensus.serializedData()
            } catch {
                throw Self.fail("the ordering switches cannot be encoded: \(error)")
            }
            root.groups["Orderer"] = orderer
        case .setBatch(let count, let absolute, let preferred, let timeout):
            guard var orderer = root.groups["Orderer"], var size = orderer.values["BatchSize"].flatMap({ try? Orderer_BatchSize(serializedBytes: $0.value) })
            else { throw Self.fail("the configuration has no Orderer BatchSize") }
            func checked(_ value: Int?, _ name: String) throws(ConfigError) -> UInt32? {
                guard let value else { return nil }
                guard let exact = UInt32(exactly: value), exact >= 1 else { throw Self.fail("\(name) must be between 1 and \(UInt32.max)") }
                return exact
            }
            if let value = try checked(count, "max message count") { size.maxMessageCount = value }
            if let value = try checked(absolute, "absolute max bytes") { size.absoluteMaxBytes = value }
            if let value = try checked(preferred, "preferred max bytes") { size.preferredMaxBytes = value }
            orderer.values["BatchSize"]!.value = (try? size.serializedData()) ?? Data()
            if let timeout {
                guard timeout >= 1, timeout <= Int(Int32.max) else { throw Self.fail("the batch timeout must be at least 1 ms") }
                var batchTimeout = Orderer_BatchTimeout()
                batchTimeout.timeout = "\(timeout)ms"
                orderer.values["BatchTimeout", default: Self.value(Data())].value = (try? batchTimeout.serializedData()) ?? Data()
            }
            root.groups["Orderer"] = orderer
        }
    }

    private static func fail(_ reason: String) -> ConfigError { ConfigError(.invalidValue, file: "channel update", line: nil, field: "", reason: reason) }

    private static func value(_ bytes: Data) -> Common_ConfigValue {
        var value = Common_ConfigValue()
        value.value = bytes
        value.modPolicy = "Admins"
        return value
    }

    private static func samePEM(_ data: Data, _ pem: String) -> Bool {
        String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == pem.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The section (`Application` or `Orderer`) and group key of the organization whose MSP is `mspID`.
    package static func organizationKey(_ mspID: String, in root: Common_ConfigGroup) -> (section: String, key: String)? {
        for section in ["Application", "Orderer"] {
            for (key, group) in root.groups[section]?.groups ?? [:] {
                if key == mspID || fabricMSP(group)?.name == mspID { return (section, key) }
            }
        }
        return nil
    }

    private static func fabricMSP(_ group: Common_ConfigGroup) -> Msp_FabricMSPConfig? {
        guard let value = group.values["MSP"], let msp = try? Msp_MSPConfig(serializedBytes: value.value) else { return nil }
        return try? Msp_FabricMSPConfig(serializedBytes: msp.config)
    }

    private static func editMSP(_ mspID: String, in root: inout Common_ConfigGroup, _ edit: (inout Msp_FabricMSPConfig) -> Void) throws(ConfigError) {
        guard let (section, key) = organizationKey(mspID, in: root), var group = root.groups[section]?.groups[key],
            let value = group.values["MSP"], var msp = try? Msp_MSPConfig(serializedBytes: value.value),
            var fabric = try? Msp_FabricMSPConfig(serializedBytes: msp.config)
        else { throw fail("no organization \(mspID) with an X.509 MSP in the configuration") }
        edit(&fabric)
        msp.config = (try? fabric.serializedData()) ?? Data()
        group.values["MSP"]!.value = (try? msp.serializedData()) ?? Data()
        root.groups[section]!.groups[key] = group
    }
}
