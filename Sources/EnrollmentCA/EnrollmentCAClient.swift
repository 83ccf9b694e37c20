import AsyncHTTPClient
import Crypto
import Foundation
import Identity
import NIOCore
import NIOFoundationCompat
import NIOSSL
import SwiftASN1
import X509

/// A client of an enrollment CA (ours or Fabric CA) over TLS, speaking Fabric CA's REST API:
/// enroll makes the key pair here and sends only a certificate signing request; the other calls
/// are signed with Fabric CA's token by the caller's current certificate and key.
package struct EnrollmentCAClient: Sendable {
    /// An identity the CA issued: its certificate and private key, and the CA's chain (PEM).
    package struct Enrollment: Sendable {
        package let certificate: Certificate
        package let privateKey: P256.Signing.PrivateKey
        package let caChainPEM: String

        package init(certificate: Certificate, privateKey: P256.Signing.PrivateKey, caChainPEM: String) {
            self.certificate = certificate
            self.privateKey = privateKey
            self.caChainPEM = caChainPEM
        }
    }

    package let baseURL: String
    private let configuration: HTTPClient.Configuration

    /// `baseURL`: `https://host:port`; `trustedCA`: the PEM file of the CA server's TLS root.
    package init(baseURL: String, trustedCA: URL) throws {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(trustedCA.path))
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(30))
        self.configuration = configuration
    }

    // MARK: - Calls

    package func caInfo() async throws -> FabricCAMessages.ServerInfo {
        try await call("GET", "/api/v1/cainfo", body: nil, authorization: nil, as: FabricCAMessages.ServerInfo.self)
    }

    /// Enrolls `id` with its secret: a new P-256 key, a CSR with CN=id, the certificate.
    package func enroll(id: String, secret: String, attributes: [FabricCAMessages.AttributeRequest]? = nil) async throws -> Enrollment {
        let key = P256.Signing.PrivateKey()
        let body = try JSONEncoder().encode(FabricCAMessages.EnrollRequest(certificateRequest: try Self.csr(commonName: id, key: key), attributeRequests: attributes))
        let basic = "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
        let result = try await call("POST", "/api/v1/enroll", body: body, authorization: basic, as: FabricCAMessages.EnrollResult.self)
        return try Self.enrollment(result, key: key)
    }

    /// A new certificate (and key) for the caller.
    package func reenroll(_ caller: Enrollment, attributes: [FabricCAMessages.AttributeRequest]? = nil) async throws -> Enrollment {
        let key = P256.Signing.PrivateKey()
        let commonName = caller.certificate.subject.lazy.flatMap { $0 }.first { $0.type == .RDNAttributeType.commonName }.map { String(describing: $0.value) } ?? ""
        let body = try JSONEncoder().encode(FabricCAMessages.EnrollRequest(certificateRequest: try Self.csr(commonName: commonName, key: key), attributeRequests: attributes))
        let result = try await call("POST", "/api/v1/reenroll", body: body, authorization: try Self.token(caller, method: "POST", uri: "/api/v1/reenroll", body: body), as: FabricCAMessages.EnrollResult.self)
        return try Self.enrollment(result, key: key)
    }

    /// Registers an identity on behalf of `registrar`; its secret.
    package func register(_ request: FabricCAMessages.RegisterRequest, by registrar: Enrollment) async throws -> String {
        let body = try JSONEncoder().encode(request)
        return try await call(
            "POST", "/api/v1/register", body: body, authorization: try Self.token(registrar, method: "POST", uri: "/api/v1/register", body: body),
            as: FabricCAMessages.RegisterResult.self
        ).secret
    }

    package func revoke(_ request: FabricCAMessages.RevokeRequest, by revoker: Enrollment) async throws -> FabricCAMessages.RevokeResult {
        let body = try JSONEncoder().encode(request)
        return try await call(
            "POST", "/api/v1/revoke", body: body, authorization: try Self.token(revoker, method: "POST", uri: "/api/v1/revoke", body: body),
            as: FabricCAMessages.RevokeResult.self)
    }

    /// The CA's current CRL, PEM.
    package func generateCRL(by caller: Enrollment) async throws -> String {
        let body = try JSONEncoder().encode(FabricCAMessages.GenerateCRLRequest())
        let result = try await call(
            "POST", "/api/v1/gencrl", body: body, authorization: try Self.token(caller, method: "POST", uri: "/api/v1/gencrl", body: body),
            as: FabricCAMessages.GenerateCRLResult.self)
        guard let pem = Data(base64Encoded: result.crl).map({ String(decoding: $0, as: UTF8.self) }) else { throw EnrollmentCAClientError("the CA sent a CRL that is not base64") }
        return pem
    }

    // MARK: - Plumbing

    private func call<T: Codable & Sendable>(_ method: String, _ path: String, body: Data?, authorization: String?, as type: T.Type) async throws -> T {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .RAW(value: method)
        request.headers.add(name: "Content-Type", value: "application/json")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        if let body { request.body = .bytes(ByteBuffer(data: body)) }
        // One HTTP client per call, always shut down (AsyncHTTPClient traps on a client dropped without it).
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .seconds(30))
            bytes = try await response.body.collect(upTo: 1024 * 1024)
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
        guard let envelope = try? JSONDecoder().decode(FabricCAMessages.Envelope<T>.self, from: Data(buffer: bytes)) else {
            throw EnrollmentCAClientError("the CA answered HTTP \(response.status.code) with a body that is not Fabric CA's JSON")
        }
        guard envelope.success, let result = envelope.result else {
            let reasons = envelope.errors.map { "\($0.message) (code \($0.code))" }.joined(separator: "; ")
            throw EnrollmentCAClientError("the CA refused (HTTP \(response.status.code)): \(reasons)")
        }
        return result
    }

    /// Fabric CA's token: B64(cert PEM) "." B64(ECDSA-SHA256 signature, DER) over
    /// `method.B64(uri).B64(body).B64(cert PEM)`.
    package static func token(_ caller: Enrollment, method: String, uri: String, body: Data) throws -> String {
        let certificate = Data(try caller.certificate.serializeAsPEM().pemString.utf8).base64EncodedString()
        let payload = method + "." + Data(uri.utf8).base64EncodedString() + "." + body.base64EncodedString() + "." + certificate
        // Low-S, as Fabric's client signs (Fabric CA refuses high-S signatures).
        let signature = LowS.normalize(try caller.privateKey.signature(for: Data(payload.utf8)))
        return certificate + "." + signature.derRepresentation.base64EncodedString()
    }

    static func csr(commonName: String, key: P256.Signing.PrivateKey) throws -> String {
        let subject = try DistinguishedName { CommonName(commonName) }
        let request = try CertificateSigningRequest(
            version: .v1, subject: subject, privateKey: Certificate.PrivateKey(key), attributes: CertificateSigningRequest.Attributes(),
            signatureAlgorithm: .ecdsaWithSHA256)
        return try request.serializeAsPEM().pemString
    }

    static func enrollment(_ result: FabricCAMessages.EnrollResult, key: P256.Signing.PrivateKey) throws -> Enrollment {
        guard let pem = Data(base64Encoded: result.cert).map({ String(decoding: $0, as: UTF8.self) }), let certificate = try? Certificate(pemEncoded: pem),
            let chain = Data(base64Encoded: result.serverInfo.caChain).map({ String(decoding: $0, as: UTF8.self) })
        else { throw EnrollmentCAClientError("the CA's answer holds no PEM certificate and chain") }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else { throw EnrollmentCAClientError("the CA issued a certificate for another key") }
        return Enrollment(certificate: certificate, privateKey: key, caChainPEM: chain)
    }
}

package struct EnrollmentCAClientError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
