import Crypto
import Foundation
import Identity
import X509

/// Reads generated (or Fabric cryptogen) material back: an MSP folder into an `MSPConfiguration`,
/// a member folder into a `SigningIdentity`.
package enum CryptoMaterialLoader {
    /// Root CAs from `cacerts/`, intermediates from `intermediatecerts/`, CRLs from `crls/`
    /// (missing folders are empty). Every file must parse: a damaged file is an error, not skipped.
    package static func loadMSP(_ folder: CryptoMaterialLayout.MSPFolder, mspID: String) throws(ConfigError) -> MSPConfiguration {
        MSPConfiguration(
            mspID: mspID,
            rootCertificates: try certificates(in: folder.caCertificates),
            intermediateCertificates: try certificates(in: folder.intermediateCertificates),
            revocationLists: try pemFiles(in: folder.revocationLists).map { url, text throws(ConfigError) in
                do {
                    return try CertificateRevocationList(pemEncoded: text)
                } catch {
                    throw ConfigError(.invalidValue, file: url.path, line: nil, field: "", reason: "\(error)")
                }
            })
    }

    package static func loadSigningIdentity(_ folder: CryptoMaterialLayout.MSPFolder, mspID: String) throws(ConfigError) -> SigningIdentity {
        let certificate = try loadCertificate(folder.signingCertificate)
        let keyText = try read(privateKeyFile(folder))
        do {
            let key = try P256.Signing.PrivateKey(pemRepresentation: keyText)
            return try SigningIdentity(mspID: mspID, certificate: certificate, privateKey: key)
        } catch {
            throw ConfigError(.invalidValue, file: folder.privateKey.path, line: nil, field: "", reason: "not a P-256 private key matching the signing certificate: \(error)")
        }
    }

    /// The folder's private key: `keystore/key.pem` as `medrex crypto generate` and `medrex ca
    /// enroll` write it, or else the one file in `keystore/` (`<SKI>_sk`, as Fabric's cryptogen
    /// and fabric-ca-client write it).
    static func privateKeyFile(_ folder: CryptoMaterialLayout.MSPFolder) -> URL {
        guard !FileManager.default.fileExists(atPath: folder.privateKey.path) else { return folder.privateKey }
        let keystore = folder.privateKey.deletingLastPathComponent()
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: keystore.path)) ?? []).filter { !$0.hasPrefix(".") }
        return files.count == 1 ? keystore.appendingPathComponent(files[0]) : folder.privateKey
    }

    /// A node's own signing identity, as `loadSigningIdentity` reads it, refused when its
    /// certificate is not valid at `now`: a peer or an orderer does not start signing with an
    /// expired (or not yet valid) certificate that every other node would refuse.
    package static func loadNodeSigningIdentity(_ folder: CryptoMaterialLayout.MSPFolder, mspID: String, at now: Date) throws(ConfigError) -> SigningIdentity {
        let identity = try loadSigningIdentity(folder, mspID: mspID)
        let (notBefore, notAfter) = (identity.certificate.notValidBefore, identity.certificate.notValidAfter)
        guard now <= notAfter else {
            throw ConfigError(
                .invalidValue, file: folder.signingCertificate.path, line: nil, field: "",
                reason: "the node's signing certificate expired at \(notAfter); renew it (medrex crypto generate --force, or the organization's CA) before starting")
        }
        guard now >= notBefore else {
            throw ConfigError(
                .invalidValue, file: folder.signingCertificate.path, line: nil, field: "",
                reason: "the node's signing certificate is not valid before \(notBefore); check this machine's clock")
        }
        return identity
    }

    package static func loadCertificate(_ url: URL) throws(ConfigError) -> Certificate {
        let text = try read(url)
        do {
            return try Certificate(pemEncoded: text)
        } catch {
            throw ConfigError(.invalidValue, file: url.path, line: nil, field: "", reason: "not a PEM X.509 certificate")
        }
    }

    private static func certificates(in directory: URL) throws(ConfigError) -> [Certificate] {
        try pemFiles(in: directory).map { url, _ throws(ConfigError) in try loadCertificate(url) }
    }

    private static func pemFiles(in directory: URL) throws(ConfigError) -> [(URL, String)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        var result: [(URL, String)] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let url = directory.appendingPathComponent(name)
            result.append((url, try read(url)))
        }
        return result
    }

    private static func read(_ url: URL) throws(ConfigError) -> String {
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigError(.unreadable, file: url.path, line: nil, field: "", reason: "cannot read the file")
        }
    }
}
