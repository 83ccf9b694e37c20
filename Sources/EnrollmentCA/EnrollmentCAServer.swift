import Foundation
import Hummingbird
import HummingbirdTLS
import LedgerCore
import Logging
import NIOCore
import NIOSSL
import X509

/// An enrollment CA served over TLS with Fabric CA's REST API: `GET /api/v1/cainfo`,
/// `POST /api/v1/enroll` (HTTP Basic: enrollment id and secret), and with Fabric CA's token
/// authentication `POST /api/v1/register`, `/reenroll`, `/revoke` and `/gencrl`. Answers are
/// Fabric CA's envelope; refusals carry an HTTP status and a code and message.
package struct EnrollmentCAServer: Sendable {
    package static let version = "1.5.15-medrex"
    /// The largest request body read (a CSR and a few attributes are far smaller).
    package static let bodyBytesMax = 64 * 1024

    package let authority: EnrollmentAuthority
    private let logger: Logger

    package init(authority: EnrollmentAuthority, logger: Logger) {
        self.authority = authority
        self.logger = logger
    }

    /// Serves on `host:port` over TLS with `certificate` and `privateKey` (PEM files) until the
    /// task is cancelled or the service group shuts down; `onListening` gets the bound port.
    package func application(
        host: String, port: Int, certificate: URL, privateKey: URL, onListening: @escaping @Sendable (Int) -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate.path).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: privateKey.path, format: .pem)))
        let router = Router()
        let server = self
        // Fabric CA answers each endpoint at /X and /api/v1/X (its client posts to the URL it was given + /X).
        for prefix in ["", "/api/v1"] {
            router.get("\(prefix)/cainfo") { _, _ in try server.answer(server.serverInfo) }
            router.post("\(prefix)/cainfo") { _, _ in try server.answer(server.serverInfo) }
            router.head("\(prefix)/cainfo") { _, _ in Response(status: .ok) }
            router.post("\(prefix)/enroll") { request, _ in await server.handle { try await server.enroll(request) } }
            router.post("\(prefix)/reenroll") { request, _ in await server.handle { try await server.reenroll(request) } }
            router.post("\(prefix)/register") { request, _ in await server.handle { try await server.register(request) } }
            router.post("\(prefix)/revoke") { request, _ in await server.handle { try await server.revoke(request) } }
            router.post("\(prefix)/gencrl") { request, _ in await server.handle { try await server.generateCRL(request) } }
        }
        return Application(
            router: router, server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname(host, port: port), serverName: "medrex-ca"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }

    var serverInfo: FabricCAMessages.ServerInfo {
        let chain = (try? authority.authority.certificate.serializeAsPEM().pemString) ?? ""
        return FabricCAMessages.ServerInfo(caName: authority.name, caChain: Data(chain.utf8).base64EncodedString(), version: Self.version)
    }

    // MARK: - Handlers

    private func enroll(_ request: Request) async throws -> Response {
        var request = request
        let body = try await Self.body(&request)
        guard let (id, secret) = Self.basicCredentials(request) else {
            throw EnrollmentError(.unauthorized, "enroll needs HTTP Basic authentication with the enrollment id and secret")
        }
        let message = try Self.decode(FabricCAMessages.EnrollRequest.self, body)
        let certificate = try await authority.enroll(
            id: id, secret: secret, csr: message.certificateRequest, attributeRequests: message.attributeRequests?.map { ($0.name, $0.optional ?? false) })
        logger.notice("enrolled", metadata: ["id": "\(id)", "serial": "\(EnrollmentAuthority.serial(certificate))"])
        return try answer(FabricCAMessages.EnrollResult(cert: Data(try certificate.serializeAsPEM().pemString.utf8).base64EncodedString(), serverInfo: serverInfo), status: .created)
    }

    private func reenroll(_ request: Request) async throws -> Response {
        var request = request
        let body = try await Self.body(&request)
        let caller = try await authenticate(request, body: body)
        let message = try Self.decode(FabricCAMessages.EnrollRequest.self, body)
        let certificate = try await authority.reenroll(caller, csr: message.certificateRequest, attributeRequests: message.attributeRequests?.map { ($0.name, $0.optional ?? false) })
        logger.notice("reenrolled", metadata: ["id": "\(caller.id)", "serial": "\(EnrollmentAuthority.serial(certificate))"])
        return try answer(FabricCAMessages.EnrollResult(cert: Data(try certificate.serializeAsPEM().pemString.utf8).base64EncodedString(), serverInfo: serverInfo), status: .created)
    }

    private func register(_ request: Request) async throws -> Response {
        var request = request
        let body = try await Self.body(&request)
        let registrar = try await authenticate(request, body: body)
        let message = try Self.decode(FabricCAMessages.RegisterRequest.self, body)
        let secret = try await authority.register(
            EnrollmentAuthority.Registration(
                id: message.id, type: message.type ?? "client", secret: message.secret,
                maxEnrollments: message.maxEnrollments.flatMap { $0 == 0 ? nil : $0 }, affiliation: message.affiliation ?? "",
                attributes: (message.attributes ?? []).map { .init(name: $0.name, value: $0.value, ecert: $0.ecert ?? false) }),
            by: registrar)
        logger.notice("registered", metadata: ["id": "\(message.id)", "type": "\(message.type ?? "client")", "registrar": "\(registrar.id)"])
        return try answer(FabricCAMessages.RegisterResult(secret: secret), status: .created)
    }

    private func revoke(_ request: Request) async throws -> Response {
        var request = request
        let body = try await Self.body(&request)
        let revoker = try await authenticate(request, body: body)
        let message = try Self.decode(FabricCAMessages.RevokeRequest.self, body)
        let revoked = try await authority.revoke(id: message.id, serial: message.serial, reason: message.reason ?? "", by: revoker)
        logger.notice("revoked", metadata: ["id": "\(message.id ?? "")", "certificates": "\(revoked.count)", "revoker": "\(revoker.id)"])
        let aki = Self.authorityKeyIdentifier(authority.authority.certificate)
        var crl: String?
        if message.generateCRL == true { crl = Data(try await authority.revocationList().pemString.utf8).base64EncodedString() }
        return try answer(FabricCAMessages.RevokeResult(revokedCertificates: revoked.map { .init(serial: $0.serial, aki: aki) }, crl: crl))
    }

    private func generateCRL(_ request: Request) async throws -> Response {
        var request = request
        let body = try await Self.body(&request)
        let caller = try await authenticate(request, body: body)
        guard caller.attribute("hf.GenCRL") == "true" else { throw EnrollmentError(.forbidden, "'\(caller.id)' may not generate CRLs (hf.GenCRL)") }
        return try answer(FabricCAMessages.GenerateCRLResult(crl: Data(try await authority.revocationList().pemString.utf8).base64EncodedString()))
    }

    // MARK: - Plumbing

    private func authenticate(_ request: Request, body: [UInt8]) async throws(EnrollmentError) -> RegisteredIdentity {
        guard let token = request.headers[.authorization], !token.isEmpty else {
            throw EnrollmentError(.unauthorized, "this request needs a token: Authorization: B64(certificate).B64(signature)")
        }
        // Fabric's client signs the request URI as it sent it (path and query).
        return try await authority.authenticate(token: token, method: request.method.rawValue, uri: request.uri.description, body: body)
    }

    private static func body(_ request: inout Request) async throws(EnrollmentError) -> [UInt8] {
        do {
            return Array(buffer: try await request.collectBody(upTo: bodyBytesMax))
        } catch {
            throw EnrollmentError(.badRequest, "the request body is larger than \(bodyBytesMax) bytes or could not be read")
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws(EnrollmentError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch {
            throw EnrollmentError(.badRequest, "the request body is not the JSON this endpoint takes")
        }
    }

    /// `Authorization: Basic base64(id:secret)`.
    static func basicCredentials(_ request: Request) -> (String, String)? {
        guard let header = request.headers[.authorization], header.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
            let colon = decoded.firstIndex(of: ":")
        else { return nil }
        return (String(decoded[..<colon]), String(decoded[decoded.index(after: colon)...]))
    }

    static func authorityKeyIdentifier(_ certificate: Certificate) -> String {
        guard let identifier = try? certificate.extensions.subjectKeyIdentifier else { return "" }
        return Array(identifier.keyIdentifier).hexString
    }

    func answer<T: Codable & Sendable>(_ result: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONEncoder().encode(FabricCAMessages.Envelope(success: true, result: result))
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Runs `work`; a refusal becomes Fabric CA's error envelope with its HTTP status.
    private func handle(_ work: () async throws -> Response) async -> Response {
        do {
            return try await work()
        } catch {
            let refusal = (error as? EnrollmentError) ?? EnrollmentError(.storage, "the request failed")
            if !(error is EnrollmentError) { logger.error("a CA request failed", metadata: ["error": "\(error)"]) }
            let (status, code): (HTTPResponse.Status, Int) = switch refusal.code {
            case .badRequest: (.badRequest, 0)
            case .unauthorized: (.unauthorized, 20)
            case .forbidden: (.forbidden, 71)
            case .notFound: (.notFound, 63)
            case .conflict: (.conflict, 74)
            case .exhausted: (.unauthorized, 21)
            case .storage: (.internalServerError, 1)
            }
            let envelope = FabricCAMessages.Envelope<FabricCAMessages.RegisterResult>(
                success: false, result: nil, errors: [.init(code: code, message: refusal.reason)])
            let data = (try? JSONEncoder().encode(envelope)) ?? Data()
            return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }
}
