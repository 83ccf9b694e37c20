import Foundation
import Testing
import TestSupport
import X509

@testable import Identity

@Suite struct CertificateRevocationListTests {
    @Test func roundTripsThroughDERAndPEM() throws {
        let pki = try TestPKI()
        let serials = [try pki.identity("a").certificate.serialNumber, try pki.identity("b").certificate.serialNumber]
        let list = try pki.ca.revocationList(revoking: serials, thisUpdate: TestPKI.epoch, nextUpdate: TestPKI.now)
        let decoded = try CertificateRevocationList(pemEncoded: list.pemString)
        #expect(decoded == list)
        #expect(decoded.entries.map(\.serialNumber) == serials)
        #expect(decoded.thisUpdate == TestPKI.epoch)
        #expect(decoded.nextUpdate == TestPKI.now)
        #expect(decoded.issuer == pki.ca.certificate.subject)
        #expect(decoded.isSigned(by: pki.ca.certificate.publicKey))
        #expect(!decoded.isSigned(by: try TestPKI(domain: "x.test").ca.certificate.publicKey))
    }

    @Test func rejectsGarbage() {
        #expect(expectIdentityError { _ = try CertificateRevocationList(derEncoded: [0x30, 0x03, 0x02, 0x01, 0x01]) } == .malformedRevocationList)
        #expect(expectIdentityError { _ = try CertificateRevocationList(pemEncoded: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----") } == .malformedRevocationList)
    }

    /// OpenSSL is the independent judge: it must parse our CRL and refuse the certificate it lists.
    @Test func openSSLHonoursOurCRL() async throws {
        let pki = try TestPKI()
        let revoked = try pki.identity("revoked")
        let kept = try pki.identity("kept")
        let now = Date()
        let ca = try CertificateAuthority.makeRoot(
            commonName: "ca.openssl.test", organization: "openssl.test",
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86_400))
        let leafRequest = { (name: String) in
            CertificateRequest(commonName: name, organizationalUnits: ["client"], publicKey: revoked.privateKey.publicKey, usage: .signing,
                               notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86_400))
        }
        let revokedLeaf = try ca.issue(leafRequest("revoked"))
        let keptLeaf = try ca.issue(leafRequest("kept"))
        _ = kept
        let list = try ca.revocationList(revoking: [revokedLeaf.serialNumber], thisUpdate: now.addingTimeInterval(-60), nextUpdate: now.addingTimeInterval(86_400))

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-crl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let caFile = directory.appendingPathComponent("ca.pem")
        let crlFile = directory.appendingPathComponent("crl.pem")
        let revokedFile = directory.appendingPathComponent("revoked.pem")
        let keptFile = directory.appendingPathComponent("kept.pem")
        try ca.certificate.serializeAsPEM().pemString.write(to: caFile, atomically: true, encoding: .utf8)
        try list.pemString.write(to: crlFile, atomically: true, encoding: .utf8)
        try revokedLeaf.serializeAsPEM().pemString.write(to: revokedFile, atomically: true, encoding: .utf8)
        try keptLeaf.serializeAsPEM().pemString.write(to: keptFile, atomically: true, encoding: .utf8)

        let parsed = try await OpenSSL.run(["crl", "-in", crlFile.path, "-noout", "-text"])
        #expect(parsed.status == 0)
        #expect(parsed.output.contains("Revoked Certificates"))
        let verifyArguments = ["verify", "-crl_check", "-CRLfile", crlFile.path, "-CAfile", caFile.path]
        let refused = try await OpenSSL.run(verifyArguments + [revokedFile.path])
        #expect(refused.status != 0)
        #expect(refused.output.contains("certificate revoked"))
        let accepted = try await OpenSSL.run(verifyArguments + [keptFile.path])
        #expect(accepted.status == 0, "\(accepted.output)")
    }
}
