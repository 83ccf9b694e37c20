import Foundation
import Logging
import NIOSSL
import Synchronization

/// The TLS context a server hands each new connection. Replacing it (a client CA added by a
/// channel's configuration, a renewed certificate) changes what new connections get; connections
/// already open keep theirs.
package final class ServerTLSContext: Sendable {
    private let current: Mutex<NIOSSLContext>

    package init(_ tls: MutualTLS) throws {
        current = Mutex(try tls.serverContext())
    }

    package var context: NIOSSLContext { current.withLock { $0 } }

    package func replace(with tls: MutualTLS) throws {
        let context = try tls.serverContext()
        current.withLock { $0 = context }
    }
}

/// The client CAs a node's server trusts: those its own configuration names, plus the TLS root
/// CAs of the organizations of every channel it serves, as of each channel's last config block
/// (as Fabric's nodes take them from their channels). An organization added to a channel can
/// connect from that config block on, without a restart.
package final class ServerTrust: Sendable {
    private struct State {
        var channels: [String: [String]] = [:]
        var base: MutualTLS?
        var context: ServerTLSContext?
    }

    private let state = Mutex(State())

    package init() {}

    /// The TLS root CAs (PEM) of a channel's organizations, replacing those it had; the server's
    /// context is rebuilt when it exists.
    package func setChannel(_ channelID: String, rootPEMs: [String]) throws {
        let (base, context, channels) = state.withLock { state in
            state.channels[channelID] = rootPEMs
            return (state.base, state.context, state.channels)
        }
        if let base, let context { try context.replace(with: Self.combined(base, channels)) }
    }

    /// The server's context: `base` trusting also every channel's CAs; kept up to date from then on.
    package func makeContext(base: MutualTLS) throws -> ServerTLSContext {
        let channels = state.withLock { $0.channels }
        let context = try ServerTLSContext(Self.combined(base, channels))
        state.withLock { state in
            state.base = base
            state.context = context
        }
        return context
    }

    /// Builds the server's context again from its files (a renewed TLS certificate and key, after
    /// SIGHUP): new connections present the new certificate, open ones keep theirs. Throws (and
    /// keeps the current context) when the files do not load.
    package func reload() throws {
        let (base, context, channels) = state.withLock { ($0.base, $0.context, $0.channels) }
        guard let base, let context else { return }
        try context.replace(with: Self.combined(base, channels))
    }

    /// `reload`, logged (SIGHUP): a pair that does not load is an error in the log, and the
    /// current one stays.
    package func reload(certificate: URL, logger: Logger) {
        do {
            try reload()
            logger.notice("TLS certificate and key reloaded", metadata: ["certificate": "\(certificate.path)"])
        } catch {
            logger.error("the TLS certificate and key could not be reloaded; the current ones stay", metadata: ["error": "\(error)"])
        }
    }

    private static func combined(_ base: MutualTLS, _ channels: [String: [String]]) -> MutualTLS {
        var tls = base
        var seen = Set(tls.trustedCAPEMs)
        for pem in channels.keys.sorted().flatMap({ channels[$0]! }) where seen.insert(pem).inserted { tls.trustedCAPEMs.append(pem) }
        return tls
    }
}
