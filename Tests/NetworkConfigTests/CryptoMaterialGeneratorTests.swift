import Crypto
import Foundation
import Identity
import Testing
import TestSupport
import X509

@testable import NetworkConfig

@Suite struct CryptoMaterialGeneratorTests {
    let network: NetworkDescription
    let output: URL
    let summary: CryptoMaterialGenerator.Summary

    init() throws {
        network = try NetworkDescription.load(file: NetworkDescriptionTests.sampleFile)
        output = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-crypto-\(UUID().uuidString)")
        summary = try CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: output, force: false)
    }

    private func cleanUp() { try? FileManager.default.removeItem(at: output) }

    private func members() -> [(organization: NetworkDescription.Organization, member: CryptoMaterialLayout.Member, role: IdentityRole, user: NetworkDescription.User?)] {
        network.organizations.flatMap { organization in
            let layout = CryptoMaterialLayout(root: output, organization: organization.name)
            return organization.orderers.map { (organization, layout.member(kind: .orderer, name: $0.name), IdentityRole.orderer, nil) }
                + organization.peers.map { (organization, layout.member(kind: .peer, name: $0.name), .peer, nil) }
                + organization.admins.map { (organization, layout.member(kind: .user, name: $0.name), .admin, $0) }
                + organization.users.map { (organization, layout.member(kind: .user, name: $0.name), .client, $0) }
        }
    }

    @Test func writesMaterialThatOpenSSLAndOurMSPAccept() async throws {
        defer { cleanUp() }
        let all = members()
        let expectedMembers: Int = 3 + 1 + 2 + 1 + 6 + 2 + 1 + 3
        #expect(all.count == expectedMembers)
        #expect(summary.privateKeyCount == all.count * 2 + network.organizations.count * 2 + network.etcdMembers.count)
        // Each etcd member: a TLS certificate from the orderer organization's TLS CA, for its address.
        let ordererLayout = CryptoMaterialLayout(root: output, organization: "OrdererOrg")
        #expect(network.etcdMembers.count == 3)
        for member in network.etcdMembers {
            let tls = ordererLayout.member(kind: .etcd, name: member.name)
            let verified = try await OpenSSL.run(["verify", "-CAfile", ordererLayout.tlsCACertificate.path, tls.tlsCertificate.path])
            #expect(verified.status == 0, "\(verified.output)")
            let text = try await OpenSSL.run(["x509", "-in", tls.tlsCertificate.path, "-noout", "-ext", "subjectAltName,extendedKeyUsage"])
            #expect(text.output.contains("IP Address:127.0.0.1") && text.output.contains("TLS Web Server Authentication"), "\(text.output)")
            let mode = try FileManager.default.attributesOfItem(atPath: tls.tlsPrivateKey.path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
        for (organization, member, role, user) in all {
            let layout = CryptoMaterialLayout(root: output, organization: organization.name)
            let signing = try await OpenSSL.run(["verify", "-CAfile", layout.caCertificate.path, member.msp.signingCertificate.path])
            #expect(signing.status == 0, "\(signing.output)")
            let tls = try await OpenSSL.run(["verify", "-CAfile", layout.tlsCACertificate.path, member.tlsCertificate.path])
            #expect(tls.status == 0, "\(tls.output)")
            // A signing certificate is not a TLS certificate of the same org: different CAs.
            let crossed = try await OpenSSL.run(["verify", "-CAfile", layout.tlsCACertificate.path, member.msp.signingCertificate.path])
            #expect(crossed.status != 0)

            let msp = try MembershipServiceProvider(CryptoMaterialLoader.loadMSP(layout.organizationMSP, mspID: organization.mspID))
            let identity = try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: organization.mspID)
            let validated = try msp.validate(serializedIdentity: identity.serialized, as: role, at: Date())
            #expect(validated.attributes == (user?.attributes ?? [:]))
            let signature = try identity.sign(Array("hello".utf8))
            try SignatureVerifier.verify(signature: signature, over: Array("hello".utf8), publicKey: validated.publicKey)

            for key in [member.msp.privateKey, member.tlsPrivateKey] {
                let mode = try FileManager.default.attributesOfItem(atPath: key.path)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(key.path)")
            }
        }
    }

    @Test func tlsCertificatesNameLocalhostAndTheNode() async throws {
        defer { cleanUp() }
        let hospital = try #require(network.organization(named: "HospitalA"))
        let peer = CryptoMaterialLayout(root: output, organization: "HospitalA").member(kind: .peer, name: "peer0")
        let text = try await OpenSSL.run(["x509", "-in", peer.tlsCertificate.path, "-noout", "-ext", "subjectAltName,extendedKeyUsage"])
        #expect(text.output.contains("DNS:localhost"))
        #expect(text.output.contains("IP Address:127.0.0.1"))
        #expect(text.output.contains("DNS:peer0.\(hospital.domain)"))
        #expect(text.output.contains("TLS Web Server Authentication"))
        #expect(text.output.contains("TLS Web Client Authentication"))
    }

    @Test func refusesToOverwriteWithoutForce() throws {
        defer { cleanUp() }
        let marker = output.appendingPathComponent("HospitalA/ca/ca-cert.pem")
        let before = try Data(contentsOf: marker)
        let generator = CryptoMaterialGenerator(network: network, notValidBefore: Date())
        do {
            _ = try generator.write(to: output, force: false)
            Issue.record("overwrote existing output")
        } catch {
            #expect(error.code == .outputExists)
        }
        #expect(try Data(contentsOf: marker) == before)
        // Replacing keeps the CAs; only --new-cas replaces them.
        _ = try generator.write(to: output, force: true)
        #expect(try Data(contentsOf: marker) == before)
        _ = try generator.write(to: output, force: true, newCAs: true)
        #expect(try Data(contentsOf: marker) != before)
    }

    /// A clinician or a hospital added to network.yaml: generating again keeps every CA (channels
    /// name them), and its CRLs, issues every member from them (the new clinician too), and gives
    /// the new organization CAs of its own.
    @Test func generatingAgainKeepsTheCAsAndTheirRevocations() throws {
        defer { cleanUp() }
        let layout = CryptoMaterialLayout(root: output, organization: "HospitalA")
        let caBefore = try Data(contentsOf: layout.caCertificate)
        let tlsCABefore = try Data(contentsOf: layout.tlsCACertificate)
        // A CRL of HospitalA's CA revoking the student's certificate.
        let ca = try CertificateAuthority(
            certificate: try Certificate(pemEncoded: try String(contentsOf: layout.caCertificate, encoding: .utf8)),
            privateKey: try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOf: layout.caPrivateKey, encoding: .utf8)))
        let student = try Certificate(pemEncoded: try String(contentsOf: layout.member(kind: .user, name: "student-dev").msp.signingCertificate, encoding: .utf8))
        let crl = layout.organizationMSP.revocationLists.appendingPathComponent("crl.pem")
        let revocations = try ca.revocationList(revoking: [student.serialNumber], thisUpdate: Date().addingTimeInterval(-60), nextUpdate: Date().addingTimeInterval(86_400)).pemString
        try Data(revocations.utf8).write(to: crl)
        let grown = try NetworkDescription.parse(
            yaml: try String(contentsOfFile: NetworkDescriptionTests.sampleFile, encoding: .utf8)
                .replacingOccurrences(of: "      - name: patient-alice\n", with: "      - name: dr-new\n        attributes: { role: consulting_doctor, specialty: cardiology, hospital: HospitalA }\n      - name: patient-alice\n")
                .replacingOccurrences(of: "# The etcd cluster", with: "  - name: LabC\n    mspID: LabCMSP\n    domain: lab-c.medrex.example\n    peers:\n      - { name: peer0, port: 9051, operationsPort: 9451 }\n    admins:\n      - name: admin\n\n# The etcd cluster"),
            file: "network.yaml")
        _ = try CryptoMaterialGenerator(network: grown, notValidBefore: Date().addingTimeInterval(-60)).write(to: output, force: true)
        #expect(try Data(contentsOf: layout.caCertificate) == caBefore)
        #expect(try Data(contentsOf: layout.tlsCACertificate) == tlsCABefore)
        #expect(try String(contentsOf: crl, encoding: .utf8) == revocations)
        let msp = try MembershipServiceProvider(CryptoMaterialLoader.loadMSP(layout.organizationMSP, mspID: "HospitalAMSP"))
        let newcomer = try CryptoMaterialLoader.loadSigningIdentity(layout.member(kind: .user, name: "dr-new").msp, mspID: "HospitalAMSP")
        _ = try msp.validate(serializedIdentity: newcomer.serialized, as: .client, at: Date())
        let lab = CryptoMaterialLayout(root: output, organization: "LabC")
        #expect(FileManager.default.fileExists(atPath: lab.member(kind: .peer, name: "peer0").msp.signingCertificate.path))
        #expect(try Data(contentsOf: lab.caCertificate) != caBefore)
    }

    /// A kept CA whose key does not match its certificate is refused, and nothing changes.
    @Test func aBrokenCAToKeepIsRefusedAndNothingChanges() throws {
        defer { cleanUp() }
        let a = CryptoMaterialLayout(root: output, organization: "HospitalA")
        let b = CryptoMaterialLayout(root: output, organization: "HospitalB")
        try Data(contentsOf: b.caPrivateKey).write(to: a.caPrivateKey)
        let peerBefore = try Data(contentsOf: a.member(kind: .peer, name: "peer0").msp.signingCertificate)
        let error = #expect(throws: ConfigError.self) {
            _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date()).write(to: output, force: true)
        }
        #expect(error?.reason.contains("--new-cas") == true, "\(String(describing: error))")
        #expect(try Data(contentsOf: a.member(kind: .peer, name: "peer0").msp.signingCertificate) == peerBefore)
    }

    @Test func forceStillRefusesADirectoryItDidNotWrite() throws {
        defer { cleanUp() }
        let foreign = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-foreign-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        let precious = foreign.appendingPathComponent("notes.txt")
        try Data("keep me".utf8).write(to: precious)
        defer { try? FileManager.default.removeItem(at: foreign) }
        do {
            _ = try CryptoMaterialGenerator(network: network, notValidBefore: Date()).write(to: foreign, force: true)
            Issue.record("replaced a directory it did not write")
        } catch {
            #expect(error.code == .outputExists)
        }
        #expect(try String(contentsOf: precious, encoding: .utf8) == "keep me")
    }

    @Test func tamperedCertificateFileIsRefusedByTheMSP() async throws {
        defer { cleanUp() }
        let layout = CryptoMaterialLayout(root: output, organization: "HospitalA")
        let member = layout.member(kind: .user, name: "dr-carter")
        var der = try CryptoMaterialLoader.loadCertificate(member.msp.signingCertificate).serializeAsPEM().derBytes
        let needle = Array("cardiology".utf8)
        let range = try #require(der.firstRange(of: needle))
        der.replaceSubrange(range, with: Array("neurology!".utf8))
        let tampered = try Certificate(derEncoded: der)
        try tampered.serializeAsPEM().pemString.write(to: member.msp.signingCertificate, atomically: true, encoding: .utf8)

        let verdict = try await OpenSSL.run(["verify", "-CAfile", layout.caCertificate.path, member.msp.signingCertificate.path])
        #expect(verdict.status != 0)
        let msp = try MembershipServiceProvider(CryptoMaterialLoader.loadMSP(layout.organizationMSP, mspID: "HospitalAMSP"))
        do {
            _ = try msp.validate(certificate: tampered, at: Date())
            Issue.record("accepted a tampered certificate")
        } catch {
            #expect(error.code == .untrustedIssuer)
        }
    }
}
