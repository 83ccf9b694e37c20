import Crypto
import Foundation
import Identity
import LedgerCore
import NetworkConfig
import Testing
import TestSupport
import X509
@testable import EnrollmentCA
@testable import NodeClients

/// HospitalA's enrollment CA as a real process (`medrex ca start`), driven by `medrex ca` and by
/// raw HTTP requests shaped as Fabric's `fabric-ca-client` sends them; the identities it issues
/// work on a running network, and its CRL cuts them off through a channel update.
@Suite(.serialized) struct EnrollmentCAEndToEndTests {
    struct CA {
        let process: Daemon
        let port: Int
        let tlsCA: URL
        let url: String

        /// HospitalA's CA behind a TLS pair issued by HospitalA's TLS CA for 127.0.0.1.
        static func start(network: LocalTestNetwork, registry: String = "registry.json", environment: [String: String] = [:]) async throws -> CA {
            let layout = CryptoMaterialLayout(root: network.crypto, organization: "HospitalA")
            let directory = network.work.appendingPathComponent("ca-hospital-a")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let tlsCA = try CertificateAuthority(
                certificate: try Certificate(pemEncoded: String(contentsOf: layout.tlsCACertificate, encoding: .utf8)),
                privateKey: try P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: layout.tlsCAPrivateKey, encoding: .utf8)))
            let key = P256.Signing.PrivateKey()
            let certificate = try tlsCA.issue(CertificateRequest(
                commonName: "ca.hospital-a.test", publicKey: key.publicKey, usage: .tls, subjectAlternativeNames: ["127.0.0.1", "localhost"],
                notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(86_400)))
            try certificate.serializeAsPEM().pemString.write(to: directory.appendingPathComponent("tls-cert.pem"), atomically: true, encoding: .utf8)
            try key.pemRepresentation.write(to: directory.appendingPathComponent("tls-key.pem"), atomically: true, encoding: .utf8)
            let port = try ChildProcess.freePort()
            try """
            name: ca-hospital-a
            listen: 127.0.0.1:\(port)
            tls: { certificate: tls-cert.pem, privateKey: tls-key.pem }
            ca: { certificate: \(layout.caCertificate.path), privateKey: \(layout.caPrivateKey.path) }
            registry: \(registry)
            registrar: { id: admin, secret: adminpw }
            """.write(to: directory.appendingPathComponent("ca.yaml"), atomically: true, encoding: .utf8)
            let process = Daemon(arguments: ["ca", "start", "--config", directory.appendingPathComponent("ca.yaml").path], logFile: directory.appendingPathComponent("ca.log"))
            try process.start()
            let deadline = ContinuousClock.now + .seconds(30)
            while !process.log.contains("enrollment CA serving"), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            try #require(process.log.contains("enrollment CA serving"), "\(process.log)")
            return CA(process: process, port: port, tlsCA: layout.tlsCACertificate, url: "https://127.0.0.1:\(port)")
        }

        func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
            try await ChildProcess.run(ChildProcess.medrex, ["ca"] + arguments + ["--tls-ca", tlsCA.path])
        }

        /// curl as Fabric's client calls: JSON body, optional Basic or token authorization; (HTTP status, body).
        func curl(_ method: String, _ path: String, body: String?, basic: String? = nil, token: String? = nil) async throws -> (status: Int, body: String) {
            var arguments = ["-s", "-o", "-", "-w", "\n%{http_code}", "--cacert", tlsCA.path, "-X", method, "-H", "Content-Type: application/json"]
            if let basic { arguments += ["-u", basic] }
            if let token { arguments += ["-H", "Authorization: \(token)"] }
            if let body { arguments += ["--data-binary", body] }
            let result = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/curl"), arguments + [url + path])
            let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }
    }

    @Test func aClinicianIsRegisteredEnrolledUsedAndRevoked() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        let ca = try await CA.start(network: network)
        defer { ca.process.stop() }
        let registrarMSP = network.work.appendingPathComponent("registrar-msp").path
        let doctorMSP = network.work.appendingPathComponent("dr-new-msp").path

        // The registrar enrolls with its bootstrap secret; a wrong secret is refused.
        let wrong = try await ca.run(["enroll", "--url", "https://admin:nope@127.0.0.1:\(ca.port)", "--msp", registrarMSP])
        #expect(wrong.status != 0 && wrong.output.contains("wrong enrollment id or secret"), "\(wrong.output)")
        let registrar = try await ca.run(["enroll", "--url", "https://admin:adminpw@127.0.0.1:\(ca.port)", "--msp", registrarMSP])
        #expect(registrar.status == 0, "\(registrar.output)")

        // A new clinician with healthcare attributes and a one-time secret.
        let registered = try await ca.run([
            "register", "--url", ca.url, "--msp", registrarMSP, "--name", "dr-new", "--type", "client",
            "--attribute", "role=consulting_doctor:ecert", "--attribute", "specialty=cardiology:ecert", "--attribute", "hospital=HospitalA:ecert",
        ])
        #expect(registered.status == 0, "\(registered.output)")
        let secret = try #require(registered.output.components(separatedBy: "enrollment secret: ").last?.trimmingCharacters(in: .whitespacesAndNewlines))
        let twice = try await ca.run(["register", "--url", ca.url, "--msp", registrarMSP, "--name", "dr-new"])
        #expect(twice.status != 0 && twice.output.contains("already registered"), "\(twice.output)")
        let enrolled = try await ca.run(["enroll", "--url", "https://dr-new:\(secret)@127.0.0.1:\(ca.port)", "--msp", doctorMSP])
        #expect(enrolled.status == 0, "\(enrolled.output)")
        let again = try await ca.run(["enroll", "--url", "https://dr-new:\(secret)@127.0.0.1:\(ca.port)", "--msp", doctorMSP + "-2"])
        #expect(again.status != 0 && again.output.contains("used its 1 enrollment"), "\(again.output)")
        // The clinician may not register anyone.
        let notRegistrar = try await ca.run(["register", "--url", ca.url, "--msp", doctorMSP, "--name", "dr-other"])
        #expect(notRegistrar.status != 0 && notRegistrar.output.contains("hf.Registrar.Roles"), "\(notRegistrar.output)")

        // The certificate carries the attributes and works on the channel (its TLS client pair is
        // another HospitalA user's: TLS and signing identities are separate).
        let doctor = try CryptoMaterialLoader.loadSigningIdentity(CryptoMaterialLayout.MSPFolder(directory: URL(fileURLWithPath: doctorMSP)), mspID: "HospitalAMSP")
        let msp = try CryptoMaterialLoader.loadMSP(CryptoMaterialLayout(root: network.crypto, organization: "HospitalA").organizationMSP, mspID: "HospitalAMSP")
        let validated = try MembershipServiceProvider(msp).validate(serializedIdentity: doctor.serialized, at: Date())
        #expect(validated.role == .client && validated.attributes["role"] == "consulting_doctor" && validated.attributes["hf.EnrollmentID"] == "dr-new")
        let tls = network.clientTLS(org: "HospitalA", user: "dr-shah", trusting: "HospitalA")
        try await GatewayClient.withConnection(host: "127.0.0.1", port: network.peers[0].port, tls: tls, signer: doctor) { gateway in
            let txID = try await gateway.submit(channel: network.channel, chaincode: "kv", arguments: ["put", "by-dr-new", "1"])
            #expect(try await gateway.commitStatus(channel: network.channel, transactionID: txID).result == .valid)
        }
        // Reenrolled: a new key and certificate in the same folder.
        let before = try String(contentsOfFile: doctorMSP + "/signcerts/cert.pem", encoding: .utf8)
        let reenrolled = try await ca.run(["reenroll", "--url", ca.url, "--msp", doctorMSP])
        let after = try String(contentsOfFile: doctorMSP + "/signcerts/cert.pem", encoding: .utf8)
        #expect(reenrolled.status == 0 && after != before, "\(reenrolled.output)")

        // Revoked at the CA, with the CRL put into the channel: refused from that config block on.
        let crl = network.work.appendingPathComponent("ca-crl.pem").path
        let revoked = try await ca.run(["revoke", "--url", ca.url, "--msp", registrarMSP, "--name", "dr-new", "--reason", "keycompromise", "--crl-output", crl])
        #expect(revoked.status == 0 && revoked.output.contains("revoked 2 certificate(s)"), "\(revoked.output)")
        let notAgain = try await ca.run(["reenroll", "--url", ca.url, "--msp", doctorMSP])
        #expect(notAgain.status != 0, "\(notAgain.output)")
        let height = try await network.height(peer: 0)
        let update = try await ChildProcess.run(ChildProcess.medrex, [
            "channel", "update", "--crypto", network.crypto.path, "--org", "HospitalA", "--msp-id", "HospitalAMSP", "--orderer", "127.0.0.1:\(network.orderer.port)",
            "--orderer-org", "OrdererOrg", "--channel", network.channel, "--crl", "HospitalAMSP=\(crl)", "--submit",
        ])
        #expect(update.status == 0, "\(update.output)")
        try await network.waitForHeight(height + 1, peer: 0)
        let renewed = try CryptoMaterialLoader.loadSigningIdentity(CryptoMaterialLayout.MSPFolder(directory: URL(fileURLWithPath: doctorMSP)), mspID: "HospitalAMSP")
        await #expect(throws: (any Error).self) {
            try await GatewayClient.withConnection(host: "127.0.0.1", port: network.peers[0].port, tls: tls, signer: renewed) { gateway in
                _ = try await gateway.submit(channel: network.channel, chaincode: "kv", arguments: ["put", "after-revocation", "1"])
            }
        }
        // The CA's CRL, generated on demand, lists both certificates.
        let generated = network.work.appendingPathComponent("gencrl.pem").path
        #expect(try await ca.run(["gencrl", "--url", ca.url, "--msp", registrarMSP, "--output", generated]).status == 0)
        let list = try CertificateRevocationList(pemEncoded: String(contentsOfFile: generated, encoding: .utf8))
        #expect(list.entries.count == 2 && list.revokes(doctor.certificate.serialNumber) && list.revokes(renewed.certificate.serialNumber))
    }

    @Test func rawRequestsShapedAsFabricsClientSendsThem() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        let ca = try await CA.start(network: network)
        defer { ca.process.stop() }
        // cainfo: the CA's name and its chain (base64 of PEM).
        let info = try await ca.curl("POST", "/cainfo", body: "{}")
        #expect(info.status == 200 && info.body.contains("\"success\":true") && info.body.contains("\"CAName\":\"ca-hospital-a\""), "\(info.body)")
        // enroll: Basic authentication, a CSR made by openssl (the key stays here).
        let key = network.work.appendingPathComponent("raw-key.pem").path
        let csrFile = network.work.appendingPathComponent("raw.csr").path
        #expect(try await OpenSSL.run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]).status == 0)
        #expect(try await OpenSSL.run(["req", "-new", "-key", key, "-subj", "/CN=admin", "-out", csrFile]).status == 0)
        let csr = try String(contentsOfFile: csrFile, encoding: .utf8)
        func json(_ object: [String: Any]) throws -> String { String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self) }
        // Exactly the fields Fabric's client sends (cfssl's SignRequest plus CAName).
        func makeEnrollBody(_ csr: String) throws -> String {
            try json([
                "hosts": ["raw-client"], "certificate_request": csr, "profile": "", "crl_override": "", "label": "", "NotBefore": "0001-01-01T00:00:00Z",
                "NotAfter": "0001-01-01T00:00:00Z", "ReturnPrecert": false, "CAName": "",
            ])
        }
        let enrollBody = try makeEnrollBody(csr)
        let enrolled = try await ca.curl("POST", "/api/v1/enroll", body: enrollBody, basic: "admin:adminpw")
        #expect(enrolled.status == 201, "\(enrolled.body)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(enrolled.body.utf8)) as? [String: Any])
        let result = try #require(answer["result"] as? [String: Any])
        let certificateBase64 = try #require(result["Cert"] as? String)
        let certificatePEM = String(decoding: try #require(Data(base64Encoded: certificateBase64)), as: UTF8.self)
        let certificate = try Certificate(pemEncoded: certificatePEM)
        #expect((result["ServerInfo"] as? [String: Any])?["CAName"] as? String == "ca-hospital-a")
        // register with Fabric's token, signed by openssl over method.B64(uri).B64(body).B64(cert).
        let registerBody = try json(["id": "raw-user", "type": "client", "secret": "rawpw", "max_enrollments": 0, "affiliation": "", "attrs": [["name": "role", "value": "nurse", "ecert": true]], "caname": ""])
        func token(_ method: String, _ uri: String, _ body: String) async throws -> String {
            let b64cert = Data(certificatePEM.utf8).base64EncodedString()
            let payload = "\(method).\(Data(uri.utf8).base64EncodedString()).\(Data(body.utf8).base64EncodedString()).\(b64cert)"
            // ECDSA over SHA-256, DER, low-S: as Fabric's client signs.
            let privateKey = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: key, encoding: .utf8))
            let signature = LowS.normalize(try privateKey.signature(for: Data(payload.utf8)))
            return b64cert + "." + signature.derRepresentation.base64EncodedString()
        }
        let registered = try await ca.curl("POST", "/register", body: registerBody, token: try await token("POST", "/register", registerBody))
        #expect(registered.status == 201 && registered.body.contains("\"secret\":\"rawpw\""), "\(registered.body)")
        // A token over another body, a missing token, garbage: 401 with Fabric CA's error shape, nothing registered.
        let otherBody = try json(["id": "raw-user-2", "type": "client"])
        let mismatched = try await ca.curl("POST", "/api/v1/register", body: otherBody, token: try await token("POST", "/api/v1/register", registerBody))
        #expect(mismatched.status == 401 && mismatched.body.contains("\"success\":false") && mismatched.body.contains("\"code\":20"), "\(mismatched.body)")
        #expect(try await ca.curl("POST", "/api/v1/register", body: otherBody).status == 401)
        #expect(try await ca.curl("POST", "/api/v1/register", body: otherBody, token: "garbage.more").status == 401)
        #expect(try await ca.curl("POST", "/api/v1/enroll", body: "{not json", basic: "admin:adminpw").status == 400)
        let badCSR = try json(["certificate_request": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"])
        #expect(try await ca.curl("POST", "/api/v1/enroll", body: badCSR, basic: "raw-user:rawpw").status == 400)
        // A CSR whose CN is not the enrollment id: 403.
        #expect(try await ca.curl("POST", "/api/v1/enroll", body: enrollBody, basic: "raw-user:rawpw").status == 403)
        // The registered user enrolls (its secret was not used up by the refused requests), once.
        let userCSR = network.work.appendingPathComponent("raw-user.csr").path
        #expect(try await OpenSSL.run(["req", "-new", "-key", key, "-subj", "/C=US/ST=North Carolina/O=Hyperledger/OU=Fabric/CN=raw-user", "-out", userCSR]).status == 0)
        let userBody = try makeEnrollBody(try String(contentsOfFile: userCSR, encoding: .utf8))
        let userEnroll = try await ca.curl("POST", "/enroll", body: userBody, basic: "raw-user:rawpw")
        #expect(userEnroll.status == 201, "\(userEnroll.body)")
        let userAnswer = try #require(try JSONSerialization.jsonObject(with: Data(userEnroll.body.utf8)) as? [String: Any])
        let userCertificateBase64 = try #require((userAnswer["result"] as? [String: Any])?["Cert"] as? String)
        let userCertificate = try Certificate(pemEncoded: String(decoding: try #require(Data(base64Encoded: userCertificateBase64)), as: UTF8.self))
        #expect("\(userCertificate.subject)".contains("CN=raw-user") && "\(userCertificate.subject)".contains("OU=client"))
        #expect(try await ca.curl("POST", "/api/v1/enroll", body: userBody, basic: "raw-user:rawpw").status == 401)
        // revoke an unknown identity: 404; gencrl: base64 of a PEM CRL signed by the CA.
        let revokeBody = try json(["id": "nobody", "aki": "", "serial": "", "reason": "keycompromise", "caname": "", "gencrl": false])
        #expect(try await ca.curl("POST", "/api/v1/revoke", body: revokeBody, token: try await token("POST", "/api/v1/revoke", revokeBody)).status == 404)
        let crlBody = try json(["caname": ""])
        let crl = try await ca.curl("POST", "/api/v1/gencrl", body: crlBody, token: try await token("POST", "/api/v1/gencrl", crlBody))
        let crlResult = try #require((try JSONSerialization.jsonObject(with: Data(crl.body.utf8)) as? [String: Any])?["result"] as? [String: Any])
        let crlBase64 = try #require(crlResult["CRL"] as? String)
        let crlPEM = String(decoding: try #require(Data(base64Encoded: crlBase64)), as: UTF8.self)
        let list = try CertificateRevocationList(pemEncoded: crlPEM)
        let caCertificate = try Certificate(pemEncoded: String(contentsOf: CryptoMaterialLayout(root: network.crypto, organization: "HospitalA").caCertificate, encoding: .utf8))
        #expect(list.entries.isEmpty && list.isSigned(by: caCertificate.publicKey))
        _ = certificate
    }

    /// The CA with its registry in PostgreSQL: what it registers survives a restart of the CA.
    @Test func theRegistryInPostgresSurvivesARestartOfTheCA() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        let postgres = try await PostgresServer.start(database: "medrex_ca", timeout: .seconds(90))
        defer { postgres.stop() }
        let registry = "{ postgres: { host: 127.0.0.1, port: \(postgres.port), user: \(postgres.username), database: medrex_ca, tls: { rootCAs: [\(postgres.caCertificate.path)] } } }"
        var ca = try await CA.start(network: network, registry: registry)
        let registrarMSP = network.work.appendingPathComponent("registrar-msp").path
        #expect(try await ca.run(["enroll", "--url", "https://admin:adminpw@127.0.0.1:\(ca.port)", "--msp", registrarMSP]).status == 0)
        let registered = try await ca.run(["register", "--url", ca.url, "--msp", registrarMSP, "--name", "nurse-new", "--secret", "pw", "--attribute", "role=nurse:ecert"])
        #expect(registered.status == 0, "\(registered.output)")
        #expect(ca.process.stop() == 0)
        // Restarted over the same database: the registrar's certificate and the registration are there.
        try ca.process.start()
        let deadline = ContinuousClock.now + .seconds(30)
        while ca.process.log.components(separatedBy: "enrollment CA serving").count < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        ca = CA(process: ca.process, port: ca.port, tlsCA: ca.tlsCA, url: ca.url)
        let duplicate = try await ca.run(["register", "--url", ca.url, "--msp", registrarMSP, "--name", "nurse-new"])
        #expect(duplicate.status != 0 && duplicate.output.contains("already registered"), "\(duplicate.output)")
        let enrolled = try await ca.run(["enroll", "--url", "https://nurse-new:pw@127.0.0.1:\(ca.port)", "--msp", network.work.appendingPathComponent("nurse-msp").path])
        #expect(enrolled.status == 0, "\(enrolled.output)\n\(ca.process.log)")
        ca.process.stop()
    }
}
