import Crypto
import Foundation
import Identity
import LedgerCore
import NetworkConfig
import Testing
import TestSupport
import X509
@testable import NodeClients

/// A peer's TLS certificate renewed while it runs: SIGHUP loads the new files; new connections get
/// the new certificate, an open gateway connection keeps working, files that do not load change
/// nothing, and the peer still stops gracefully.
@Suite(.serialized) struct CertificateRenewalTests {
    /// The serial number of the certificate the server at `port` presents, as openssl prints it.
    static func presentedSerial(port: Int, client: CryptoMaterialLayout.Member, trusting ca: URL) async throws -> String {
        let command = "openssl s_client -connect 127.0.0.1:\(port) -cert '\(client.tlsCertificate.path)' -key '\(client.tlsPrivateKey.path)' "
            + "-CAfile '\(ca.path)' </dev/null 2>/dev/null | openssl x509 -noout -serial"
        return try await ChildProcess.run(URL(fileURLWithPath: "/bin/bash"), ["-c", command]).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func waitForLog(_ network: LocalTestNetwork, _ text: String, count: Int) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if network.peers[0].process.log.components(separatedBy: text).count - 1 >= count { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test func sighupReloadsTheTLSCertificateWithoutDroppingOpenConnections() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        let layout = CryptoMaterialLayout(root: network.crypto, organization: "HospitalA")
        let peer = layout.member(kind: .peer, name: "peer0")
        let client = layout.member(kind: .user, name: "dr-shah")
        let port = network.peers[0].port
        let before = try await Self.presentedSerial(port: port, client: client, trusting: layout.tlsCACertificate)
        let expected = try await OpenSSL.run(["x509", "-noout", "-serial", "-in", peer.tlsCertificate.path]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(before == expected && before.hasPrefix("serial="), "\(before)")

        try await network.withGateway(peer: 0, user: "dr-shah") { gateway in
            let txID = try await gateway.submit(channel: network.channel, chaincode: "kv", arguments: ["put", "renewal", "1"])
            #expect(try await gateway.commitStatus(channel: network.channel, transactionID: txID).result == .valid)

            // A renewed certificate from the same TLS CA, written over the old files; then SIGHUP.
            let tlsCA = try CertificateAuthority(
                certificate: try Certificate(pemEncoded: String(contentsOf: layout.tlsCACertificate, encoding: .utf8)),
                privateKey: try P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: layout.tlsCAPrivateKey, encoding: .utf8)))
            let old = try Certificate(pemEncoded: String(contentsOf: peer.tlsCertificate, encoding: .utf8))
            let key = P256.Signing.PrivateKey()
            let renewed = try tlsCA.issue(CertificateRequest(
                commonName: "peer0.hospital-a.test", publicKey: key.publicKey, usage: .tls, subjectAlternativeNames: ["127.0.0.1", "localhost"],
                notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(90 * 86_400)))
            #expect(renewed.serialNumber != old.serialNumber)
            try renewed.serializeAsPEM().pemString.write(to: peer.tlsCertificate, atomically: true, encoding: .utf8)
            try key.pemRepresentation.write(to: peer.tlsPrivateKey, atomically: true, encoding: .utf8)
            kill(network.peers[0].process.process.processIdentifier, SIGHUP)
            #expect(try await Self.waitForLog(network, "TLS certificate and key reloaded", count: 1), "\(network.peers[0].process.log)")
            let after = try await Self.presentedSerial(port: port, client: client, trusting: layout.tlsCACertificate)
            let renewedSerial = try await OpenSSL.run(["x509", "-noout", "-serial", "-in", peer.tlsCertificate.path]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(after == renewedSerial && after != before, "\(after) vs \(renewedSerial)")

            // The connection opened before the reload still works.
            let value = try await gateway.evaluate(channel: network.channel, chaincode: "kv", arguments: ["get", "renewal"])
            #expect(String(decoding: value.payload, as: UTF8.self) == "1")

            // A key that does not go with the certificate: refused, the renewed pair stays.
            try P256.Signing.PrivateKey().pemRepresentation.write(to: peer.tlsPrivateKey, atomically: true, encoding: .utf8)
            kill(network.peers[0].process.process.processIdentifier, SIGHUP)
            #expect(try await Self.waitForLog(network, "could not be reloaded", count: 1), "\(network.peers[0].process.log)")
            #expect(try await Self.presentedSerial(port: port, client: client, trusting: layout.tlsCACertificate) == renewedSerial)
        }
        // SIGHUP does not keep the peer from stopping gracefully.
        #expect(network.peers[0].process.stop() == 0)
    }
}
