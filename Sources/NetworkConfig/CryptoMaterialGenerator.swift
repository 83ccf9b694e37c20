import Crypto
import Foundation
import Identity
import X509

/// Generates every key and certificate of a network, like Fabric's cryptogen: per organization a CA
/// and a TLS CA; for each orderer and peer a signing certificate (NodeOU `orderer` / `peer`) and a
/// TLS certificate for server and client use; admins (NodeOU `admin`) and users (NodeOU `client`,
/// with their healthcare attributes), each with a TLS client certificate; for each member of the
/// etcd cluster, a TLS certificate (server, client and peer use) from the TLS CA of the first
/// organization with orderers, so that etcd accepts that organization's orderers as clients.
///
/// Layout of the output, per organization `ORG` (see `CryptoMaterialLayout`):
/// `ORG/ca`, `ORG/tlsca`, `ORG/msp/{cacerts,tlscacerts,crls,config.yaml}`, and
/// `ORG/{orderers,peers,users}/NAME/{msp/{signcerts,keystore,cacerts,tlscacerts,config.yaml},tls}`,
/// `ORG/etcd/NAME/tls`.
/// Private keys are PKCS#8 PEM files with mode 0600.
package struct CryptoMaterialGenerator {
    package let network: NetworkDescription
    /// Start of every certificate's validity; certificates last `network.certificateValidityDays`.
    package let notValidBefore: Date

    package init(network: NetworkDescription, notValidBefore: Date) {
        self.network = network
        self.notValidBefore = notValidBefore
    }

    package struct Summary: Sendable, Equatable {
        package var organizations: [(name: String, mspID: String, orderers: Int, peers: Int, admins: Int, users: Int)]
        package var certificateCount: Int
        package var privateKeyCount: Int

        package static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.certificateCount == rhs.certificateCount && lhs.privateKeyCount == rhs.privateKeyCount
                && lhs.organizations.map(\.name) == rhs.organizations.map(\.name)
        }
    }

    /// Writes the material into `output`. An existing `output` is refused unless `force` is set, and
    /// even then only when it holds material written by this command (its marker file); the new
    /// material is written beside it first and swapped in at the end, so a failure leaves the old
    /// material as it was.
    ///
    /// Replacing keeps every organization's CA and TLS CA (keys and certificates) and its MSP's
    /// CRLs, so that channels created with them (their genesis blocks name the CAs) keep working:
    /// nodes, admins and users are issued anew from them, and organizations new in network.yaml
    /// get CAs of their own. `newCAs` replaces the CAs too, which cuts every existing channel off.
    package func write(to output: URL, force: Bool, newCAs: Bool = false) throws(ConfigError) -> Summary {
        let files = FileManager.default
        let outputPath = output.path
        let exists = files.fileExists(atPath: outputPath)
        if exists {
            guard force else {
                throw ConfigError(.outputExists, file: outputPath, line: nil, field: "", reason: "output already exists; pass --force to replace it")
            }
            guard files.fileExists(atPath: output.appendingPathComponent(CryptoMaterialLayout.markerFileName).path) else {
                throw ConfigError(.outputExists, file: outputPath, line: nil, field: "", reason: "output exists and was not written by 'medrex crypto generate'; refusing to replace it")
            }
        }
        let staging = output.deletingLastPathComponent()
            .appendingPathComponent(".\(output.lastPathComponent).staging-\(UUID().uuidString.prefix(8))")
        var writer = MaterialWriter(root: staging)
        do {
            try writer.makeDirectory(staging)
            for organization in network.organizations {
                try writeOrganization(organization, keepingCAsFrom: exists && !newCAs ? output : nil, writer: &writer)
            }
            try writer.write(Data("medrex crypto material for network '\(network.name)'\n".utf8),
                             to: staging.appendingPathComponent(CryptoMaterialLayout.markerFileName), secret: false)
            if exists {
                let retired = staging.deletingLastPathComponent().appendingPathComponent(".\(output.lastPathComponent).retired-\(UUID().uuidString.prefix(8))")
                try files.moveItem(at: output, to: retired)
                try files.moveItem(at: staging, to: output)
                try? files.removeItem(at: retired)
            } else {
                try files.moveItem(at: staging, to: output)
            }
        } catch let error as ConfigError {
            try? files.removeItem(at: staging)
            throw error
        } catch {
            try? files.removeItem(at: staging)
            throw ConfigError(.writeFailed, file: outputPath, line: nil, field: "", reason: "writing crypto material failed: \(error)")
        }
        return Summary(
            organizations: network.organizations.map {
                ($0.name, $0.mspID, $0.orderers.count, $0.peers.count, $0.admins.count, $0.users.count)
            },
            certificateCount: writer.certificateCount,
            privateKeyCount: writer.privateKeyCount)
    }

    private var notValidAfter: Date { notValidBefore.addingTimeInterval(Double(network.certificateValidityDays) * 86_400) }

    private func writeOrganization(_ organization: NetworkDescription.Organization, keepingCAsFrom existing: URL?, writer: inout MaterialWriter) throws {
        let layout = CryptoMaterialLayout(root: writer.root, organization: organization.name)
        let kept = existing.map { CryptoMaterialLayout(root: $0, organization: organization.name) }
        let ca: CertificateAuthority
        let tlsCA: CertificateAuthority
        if let kept, FileManager.default.fileExists(atPath: kept.caCertificate.path) || FileManager.default.fileExists(atPath: kept.tlsCACertificate.path) {
            ca = try Self.loadAuthority(certificate: kept.caCertificate, key: kept.caPrivateKey, of: organization)
            tlsCA = try Self.loadAuthority(certificate: kept.tlsCACertificate, key: kept.tlsCAPrivateKey, of: organization)
        } else {
            ca = try CertificateAuthority.makeRoot(
                commonName: "ca.\(organization.domain)", organization: organization.domain,
                notValidBefore: notValidBefore, notValidAfter: notValidAfter)
            tlsCA = try CertificateAuthority.makeRoot(
                commonName: "tlsca.\(organization.domain)", organization: organization.domain,
                notValidBefore: notValidBefore, notValidAfter: notValidAfter)
        }
        try writer.writeCertificate(ca.certificate, to: layout.caCertificate)
        try writer.writePrivateKey(ca.privateKey, to: layout.caPrivateKey)
        try writer.writeCertificate(tlsCA.certificate, to: layout.tlsCACertificate)
        try writer.writePrivateKey(tlsCA.privateKey, to: layout.tlsCAPrivateKey)
        try writeMSPFolder(layout.organizationMSP, ca: ca, tlsCA: tlsCA, writer: &writer)
        if let kept {
            // The organization's revocations stay: a revoked certificate must not come back.
            let crls = kept.organizationMSP.revocationLists
            for name in (try? FileManager.default.contentsOfDirectory(atPath: crls.path))?.sorted() ?? [] {
                try writer.write(try Data(contentsOf: crls.appendingPathComponent(name)), to: layout.organizationMSP.revocationLists.appendingPathComponent(name), secret: false)
            }
        }

        for node in organization.orderers {
            try writeMember(
                layout.member(kind: .orderer, name: node.name), commonName: node.qualifiedName(in: organization),
                role: .orderer, attributes: [:], tlsNames: tlsNames(node, organization), ca: ca, tlsCA: tlsCA, writer: &writer)
        }
        for node in organization.peers {
            try writeMember(
                layout.member(kind: .peer, name: node.name), commonName: node.qualifiedName(in: organization),
                role: .peer, attributes: [:], tlsNames: tlsNames(node, organization), ca: ca, tlsCA: tlsCA, writer: &writer)
        }
        if organization.name == network.organizations.first(where: { !$0.orderers.isEmpty })?.name {
            for member in network.etcdMembers {
                try writeTLSPair(
                    layout.member(kind: .etcd, name: member.name), commonName: "\(member.name).\(organization.domain)",
                    tlsNames: ["localhost", "127.0.0.1", member.name] + (["localhost", "127.0.0.1", member.name].contains(member.host) ? [] : [member.host]),
                    tlsCA: tlsCA, writer: &writer)
            }
        }
        for admin in organization.admins {
            try writeMember(
                layout.member(kind: .user, name: admin.name), commonName: admin.qualifiedName(in: organization),
                role: .admin, attributes: [:], tlsNames: [], ca: ca, tlsCA: tlsCA, writer: &writer)
        }
        for user in organization.users {
            try writeMember(
                layout.member(kind: .user, name: user.name), commonName: user.qualifiedName(in: organization),
                role: .client, attributes: user.attributes, tlsNames: [], ca: ca, tlsCA: tlsCA, writer: &writer)
        }
    }

    /// A CA kept from earlier material: its certificate and its key, which must match.
    private static func loadAuthority(certificate: URL, key: URL, of organization: NetworkDescription.Organization) throws(ConfigError) -> CertificateAuthority {
        do {
            let pem = try String(contentsOf: certificate, encoding: .utf8)
            let keyPEM = try String(contentsOf: key, encoding: .utf8)
            return try CertificateAuthority(certificate: try Certificate(pemEncoded: pem), privateKey: try P256.Signing.PrivateKey(pemRepresentation: keyPEM))
        } catch {
            throw ConfigError(
                .invalidValue, file: certificate.path, line: nil, field: "",
                reason: "the CA of \(organization.name) to keep cannot be used (\(error)); restore it, or pass --new-cas to replace every CA (channels created with the old CAs will refuse the new certificates)")
        }
    }

    /// The validity of a certificate from `ca`: the network's, within the CA's own.
    private func validity(under ca: CertificateAuthority) -> (notValidBefore: Date, notValidAfter: Date) {
        (max(notValidBefore, ca.certificate.notValidBefore), min(notValidAfter, ca.certificate.notValidAfter))
    }

    private func tlsNames(_ node: NetworkDescription.Node, _ organization: NetworkDescription.Organization) -> [String] {
        var names = ["localhost", "127.0.0.1", node.qualifiedName(in: organization)]
        for host in [node.host] + node.extraHosts where !names.contains(host) { names.append(host) }
        return names
    }

    private func writeMSPFolder(
        _ msp: CryptoMaterialLayout.MSPFolder, ca: CertificateAuthority, tlsCA: CertificateAuthority, writer: inout MaterialWriter
    ) throws {
        try writer.writeCertificate(ca.certificate, to: msp.caCertificate)
        try writer.writeCertificate(tlsCA.certificate, to: msp.tlsCACertificate)
        try writer.makeDirectory(msp.revocationLists)
        try writer.write(Data(NodeOUConfiguration.yaml.utf8), to: msp.nodeOUConfiguration, secret: false)
    }

    private func writeMember(
        _ member: CryptoMaterialLayout.Member,
        commonName: String,
        role: IdentityRole,
        attributes: [String: String],
        tlsNames: [String],
        ca: CertificateAuthority,
        tlsCA: CertificateAuthority,
        writer: inout MaterialWriter
    ) throws {
        let signingKey = P256.Signing.PrivateKey()
        let signingValidity = validity(under: ca)
        let signingCertificate = try ca.issue(CertificateRequest(
            commonName: commonName, organizationalUnits: [role.rawValue], publicKey: signingKey.publicKey,
            usage: .signing, attributes: attributes, notValidBefore: signingValidity.notValidBefore, notValidAfter: signingValidity.notValidAfter))
        try writeMSPFolder(member.msp, ca: ca, tlsCA: tlsCA, writer: &writer)
        try writer.writeCertificate(signingCertificate, to: member.msp.signingCertificate)
        try writer.writePrivateKey(signingKey, to: member.msp.privateKey)

        try writeTLSPair(member, commonName: commonName, tlsNames: tlsNames, tlsCA: tlsCA, writer: &writer)
    }

    /// A member's `tls/` folder: its TLS key, a certificate for server and client use naming
    /// `tlsNames`, and the TLS CA's certificate.
    private func writeTLSPair(
        _ member: CryptoMaterialLayout.Member, commonName: String, tlsNames: [String], tlsCA: CertificateAuthority, writer: inout MaterialWriter
    ) throws {
        let tlsKey = P256.Signing.PrivateKey()
        let tlsValidity = validity(under: tlsCA)
        let tlsCertificate = try tlsCA.issue(CertificateRequest(
            commonName: commonName, publicKey: tlsKey.publicKey, usage: .tls, subjectAlternativeNames: tlsNames,
            notValidBefore: tlsValidity.notValidBefore, notValidAfter: tlsValidity.notValidAfter))
        try writer.writeCertificate(tlsCA.certificate, to: member.tlsCACertificate)
        try writer.writeCertificate(tlsCertificate, to: member.tlsCertificate)
        try writer.writePrivateKey(tlsKey, to: member.tlsPrivateKey)
    }
}

/// Fabric's NodeOUs `config.yaml`, as cryptogen writes it, pointing at the MSP's CA certificate.
enum NodeOUConfiguration {
    static let yaml = """
        NodeOUs:
          Enable: true
          ClientOUIdentifier:
            Certificate: cacerts/ca-cert.pem
            OrganizationalUnitIdentifier: client
          PeerOUIdentifier:
            Certificate: cacerts/ca-cert.pem
            OrganizationalUnitIdentifier: peer
          AdminOUIdentifier:
            Certificate: cacerts/ca-cert.pem
            OrganizationalUnitIdentifier: admin
          OrdererOUIdentifier:
            Certificate: cacerts/ca-cert.pem
            OrganizationalUnitIdentifier: orderer

        """
}

/// Writes files of the material: directories as needed, private keys with mode 0600.
struct MaterialWriter {
    let root: URL
    private(set) var certificateCount = 0
    private(set) var privateKeyCount = 0
    private var writtenCertificates: Set<String> = []

    init(root: URL) { self.root = root }

    func makeDirectory(_ url: URL) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    }

    func write(_ data: Data, to url: URL, secret: Bool) throws {
        try makeDirectory(url.deletingLastPathComponent())
        guard FileManager.default.createFile(atPath: url.path, contents: data, attributes: [.posixPermissions: secret ? 0o600 : 0o644]) else {
            throw ConfigError(.writeFailed, file: url.path, line: nil, field: "", reason: "cannot create the file")
        }
    }

    mutating func writeCertificate(_ certificate: Certificate, to url: URL) throws {
        try write(Data((try certificate.serializeAsPEM().pemString + "\n").utf8), to: url, secret: false)
        if writtenCertificates.insert(certificate.serialNumber.description).inserted { certificateCount += 1 }
    }

    mutating func writePrivateKey(_ key: P256.Signing.PrivateKey, to url: URL) throws {
        try write(Data((key.pemRepresentation + "\n").utf8), to: url, secret: true)
        privateKeyCount += 1
    }
}
