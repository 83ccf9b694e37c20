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
        _ = try generator.write(to: output, force: true)
        #expect(try Data(contentsOf: marker) != before)
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
