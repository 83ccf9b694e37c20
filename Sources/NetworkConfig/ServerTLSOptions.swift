/// The TLS options of a node's gRPC server, from the `tls:` section of peer.yaml and orderer.yaml:
///
///     tls:
///       minimumVersion: "1.3"       # "1.2" (default) or "1.3"; nothing older than 1.2 is offered
///       handshakeTimeoutSeconds: 10 # 1...120; a connection that has not finished its handshake is closed
package struct ServerTLSOptions: Sendable, Equatable {
    /// The oldest TLS version the server accepts. TLS 1.2 is the floor.
    package enum Version: String, Sendable, Equatable, CaseIterable {
        case tls12 = "1.2"
        case tls13 = "1.3"
    }

    package static let handshakeTimeoutSecondsRange = 1...120

    package var minimumVersion: Version
    /// How long an accepted connection may take to finish its TLS handshake before it is closed:
    /// a client that opens connections and never completes them cannot hold the server's sockets.
    package var handshakeTimeoutSeconds: Int

    package init(minimumVersion: Version = .tls12, handshakeTimeoutSeconds: Int = 10) {
        self.minimumVersion = minimumVersion
        self.handshakeTimeoutSeconds = handshakeTimeoutSeconds
    }

    /// Reads `minimumVersion` and `handshakeTimeoutSeconds` from a `tls:` mapping (both optional).
    static func parse(_ tls: inout YAMLNodeReader) throws(ConfigError) -> ServerTLSOptions {
        var options = ServerTLSOptions()
        if let reader = try tls.optionalField("minimumVersion") {
            let text = try reader.string()
            guard let version = Version(rawValue: text) else {
                throw reader.error(.invalidValue, "unsupported TLS version '\(text)' (expected \"1.2\" or \"1.3\"; 1.2 is the oldest accepted)")
            }
            options.minimumVersion = version
        }
        if let reader = try tls.optionalField("handshakeTimeoutSeconds") {
            options.handshakeTimeoutSeconds = try reader.integer(in: handshakeTimeoutSecondsRange)
        }
        return options
    }
}
