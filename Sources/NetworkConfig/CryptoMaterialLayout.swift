import Foundation

/// Where `medrex crypto generate` puts each file, and where nodes and tools look for them.
package struct CryptoMaterialLayout: Sendable {
    package static let markerFileName = ".medrex-crypto"

    package let organizationDirectory: URL

    package init(root: URL, organization: String) {
        organizationDirectory = root.appendingPathComponent(organization)
    }

    package var caCertificate: URL { organizationDirectory.appendingPathComponent("ca/ca-cert.pem") }
    package var caPrivateKey: URL { organizationDirectory.appendingPathComponent("ca/ca-key.pem") }
    package var tlsCACertificate: URL { organizationDirectory.appendingPathComponent("tlsca/tlsca-cert.pem") }
    package var tlsCAPrivateKey: URL { organizationDirectory.appendingPathComponent("tlsca/tlsca-key.pem") }
    /// The organization's MSP as others see it: CA certificates, CRLs, NodeOU configuration.
    package var organizationMSP: MSPFolder { MSPFolder(directory: organizationDirectory.appendingPathComponent("msp")) }

    package enum MemberKind: String, Sendable {
        case orderer = "orderers"
        case peer = "peers"
        case user = "users"
        /// Members of the etcd cluster the orderers use (TLS files only), under the first
        /// organization with orderers, whose TLS CA issues their certificates.
        case etcd = "etcd"
    }

    package func member(kind: MemberKind, name: String) -> Member {
        Member(directory: organizationDirectory.appendingPathComponent(kind.rawValue).appendingPathComponent(name))
    }

    /// A Fabric-style MSP folder.
    package struct MSPFolder: Sendable {
        package let directory: URL
        package init(directory: URL) { self.directory = directory }
        package var caCertificate: URL { directory.appendingPathComponent("cacerts/ca-cert.pem") }
        package var caCertificates: URL { directory.appendingPathComponent("cacerts") }
        package var intermediateCertificates: URL { directory.appendingPathComponent("intermediatecerts") }
        package var tlsCACertificate: URL { directory.appendingPathComponent("tlscacerts/tlsca-cert.pem") }
        package var revocationLists: URL { directory.appendingPathComponent("crls") }
        package var nodeOUConfiguration: URL { directory.appendingPathComponent("config.yaml") }
        package var signingCertificate: URL { directory.appendingPathComponent("signcerts/cert.pem") }

        /// The certificate files a node uses whose expiry matters: this (its MSP) folder's, its
        /// TLS certificate (`tls`) and the client CAs its server trusts (`tls_ca`).
        package func nodeCertificateFiles(tlsCertificate: URL, clientRootCAs: [URL]) -> [(kind: String, file: URL)] {
            certificateFiles + [("tls", tlsCertificate)] + clientRootCAs.map { ("tls_ca", $0) }
        }

        /// The certificate files of the folder whose expiry matters: its signing certificate
        /// (`signing`), its CAs and intermediate CAs (`ca`) and its TLS CAs (`tls_ca`).
        package var certificateFiles: [(kind: String, file: URL)] {
            func files(_ folder: String) -> [URL] {
                let url = directory.appendingPathComponent(folder)
                return ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted().map { url.appendingPathComponent($0) }
            }
            var result: [(kind: String, file: URL)] = []
            if FileManager.default.fileExists(atPath: signingCertificate.path) { result.append(("signing", signingCertificate)) }
            result += (files("cacerts") + files("intermediatecerts")).map { ("ca", $0) }
            result += files("tlscacerts").map { ("tls_ca", $0) }
            return result
        }
        package var privateKey: URL { directory.appendingPathComponent("keystore/key.pem") }
    }

    /// One orderer, peer, admin or user: its MSP folder and its TLS files.
    package struct Member: Sendable {
        package let directory: URL
        package var msp: MSPFolder { MSPFolder(directory: directory.appendingPathComponent("msp")) }
        package var tlsCACertificate: URL { directory.appendingPathComponent("tls/ca.crt") }
        package var tlsCertificate: URL { directory.appendingPathComponent("tls/cert.crt") }
        package var tlsPrivateKey: URL { directory.appendingPathComponent("tls/key.pem") }
    }
}
