import Crypto
import Foundation
import Identity

/// The organizations of a simulated network: per application organization a CA, its peers, a
/// client and an admin; an orderer organization with one orderer identity. Keys are made once per
/// process and shared by every run (they change no decision of the simulation).
struct SimulatedMembers: Sendable {
    struct Organization: Sendable {
        let mspID: String
        let msp: MembershipServiceProvider
        let peers: [SigningIdentity]
        let client: SigningIdentity
        let admin: SigningIdentity
    }

    /// Certificates are valid for a year from here; simulated time starts a day later.
    static let epoch = Date(timeIntervalSince1970: 1_790_000_000)
    static let start = epoch.addingTimeInterval(86_400)

    let organizations: [Organization]
    let ordererMSP: MembershipServiceProvider
    let orderer: SigningIdentity

    init(organizations count: Int, peersPerOrganization: Int) throws {
        organizations = try (1...count).map { index in
            let mspID = "Org\(index)MSP"
            let ca = try Self.authority("org\(index).sim")
            return Organization(
                mspID: mspID, msp: try Self.msp(mspID, ca),
                peers: try (0..<peersPerOrganization).map { try Self.identity(mspID, ca, "peer\($0).org\(index).sim", unit: "peer") },
                client: try Self.identity(mspID, ca, "client.org\(index).sim", unit: "client"),
                admin: try Self.identity(mspID, ca, "admin.org\(index).sim", unit: "admin"))
        }
        let ordererCA = try Self.authority("orderer.sim")
        ordererMSP = try Self.msp("OrdererMSP", ordererCA)
        orderer = try Self.identity("OrdererMSP", ordererCA, "orderer0.orderer.sim", unit: "orderer")
    }

    private static func authority(_ domain: String) throws -> CertificateAuthority {
        try CertificateAuthority.makeRoot(
            commonName: "ca.\(domain)", organization: domain, notValidBefore: epoch, notValidAfter: epoch.addingTimeInterval(365 * 86_400))
    }

    private static func msp(_ mspID: String, _ ca: CertificateAuthority) throws -> MembershipServiceProvider {
        try MembershipServiceProvider(MSPConfiguration(mspID: mspID, rootCertificates: [ca.certificate]))
    }

    private static func identity(_ mspID: String, _ ca: CertificateAuthority, _ name: String, unit: String) throws -> SigningIdentity {
        let key = P256.Signing.PrivateKey()
        let certificate = try ca.issue(CertificateRequest(
            commonName: name, organizationalUnits: [unit], publicKey: key.publicKey, usage: .signing,
            notValidBefore: epoch, notValidAfter: epoch.addingTimeInterval(365 * 86_400)))
        return try SigningIdentity(mspID: mspID, certificate: certificate, privateKey: key)
    }

    var membership: MembershipRegistry { MembershipRegistry(organizations.map(\.msp) + [ordererMSP]) }
}
