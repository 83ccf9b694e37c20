import Foundation
import NIOSSL

/// TLS to the PostgreSQL server that holds the encrypted PHI: always on, the server's certificate
/// checked against `rootCAs` and its host name against the address dialled (full verification, as
/// libpq's `sslmode=verify-full`); a client certificate is presented when one is given (for
/// PostgreSQL's `cert` authentication).
package struct PostgresTLS: Sendable, Equatable {
    package var rootCAs: [URL]
    package var clientCertificate: URL?
    package var clientPrivateKey: URL?

    package init(rootCAs: [URL], clientCertificate: URL? = nil, clientPrivateKey: URL? = nil) {
        self.rootCAs = rootCAs
        self.clientCertificate = clientCertificate
        self.clientPrivateKey = clientPrivateKey
    }

    /// The client TLS configuration; a missing or malformed file is an error that names it.
    package func configuration() throws(OffChainStoreError) -> TLSConfiguration {
        func load<T>(_ what: String, _ file: URL, _ body: () throws -> T) throws(OffChainStoreError) -> T {
            do {
                return try body()
            } catch {
                throw OffChainStoreError(.invalidArgument, "cannot load the PostgreSQL TLS \(what) \(file.path) (\(error))")
            }
        }
        guard !rootCAs.isEmpty else { throw OffChainStoreError(.invalidArgument, "PostgreSQL TLS needs at least one trusted CA certificate") }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        var roots: [NIOSSLCertificate] = []
        for file in rootCAs { roots += try load("CA certificate", file) { try NIOSSLCertificate.fromPEMFile(file.path) } }
        configuration.trustRoots = .certificates(roots)
        switch (clientCertificate, clientPrivateKey) {
        case (nil, nil):
            break
        case (let certificate?, let key?):
            configuration.certificateChain = try load("client certificate", certificate) {
                try NIOSSLCertificate.fromPEMFile(certificate.path).map { .certificate($0) }
            }
            configuration.privateKey = .privateKey(try load("client key", key) { try NIOSSLPrivateKey(file: key.path, format: .pem) })
        default:
            throw OffChainStoreError(.invalidArgument, "give both the PostgreSQL TLS client certificate and its key, or neither")
        }
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw OffChainStoreError(.invalidArgument, "the PostgreSQL TLS files do not make a usable client (\(error))")
        }
        return configuration
    }
}
