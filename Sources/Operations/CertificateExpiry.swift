import Foundation
import Logging
import Prometheus
import SwiftASN1
import Synchronization
import X509

/// Watches the certificates a node uses (its signing and TLS certificates, its MSP's CAs, the TLS
/// CAs it trusts): a Prometheus gauge of the seconds until each expires
/// (`medrex_certificate_expiry_seconds{kind, file}`, negative once expired), a warning log once a
/// certificate has fewer than 30 days left and an error log below 7 days (each once per
/// certificate and threshold). Files are read at each check, so a renewed file counts from then on.
package final class CertificateExpiry: Sendable {
    /// One watched file: what it is for (`signing`, `tls`, `ca`, `tls_ca`) and where it is.
    package struct Watched: Sendable, Hashable {
        package let kind: String
        package let file: URL

        package init(kind: String, file: URL) {
            self.kind = kind
            self.file = file
        }
    }

    package static let warningThreshold: TimeInterval = 30 * 86_400
    package static let errorThreshold: TimeInterval = 7 * 86_400

    private let watched: [Watched]
    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    /// (file, threshold) pairs already reported, so a check every hour does not repeat them.
    private let reported = Mutex<Set<String>>([])

    package init(watched: [Watched], registry: PrometheusCollectorRegistry, logger: Logger) {
        self.watched = Array(Set(watched)).sorted { ($0.kind, $0.file.path) < ($1.kind, $1.file.path) }
        self.registry = registry
        self.logger = logger
    }

    /// Reads every watched file and updates the gauges; returns the seconds left per file (the
    /// earliest certificate of a file with several).
    @discardableResult
    package func check(now: Date) -> [Watched: TimeInterval] {
        var left: [Watched: TimeInterval] = [:]
        for item in watched {
            guard let text = try? String(contentsOf: item.file, encoding: .utf8),
                let certificates = try? PEMDocument.parseMultiple(pemString: text).map({ try Certificate(derEncoded: $0.derBytes) }),
                let earliest = certificates.map(\.notValidAfter).min()
            else {
                logger.warning("a certificate file cannot be read; its expiry is not watched", metadata: ["kind": "\(item.kind)", "file": "\(item.file.path)"])
                continue
            }
            let seconds = earliest.timeIntervalSince(now)
            left[item] = seconds
            registry.makeGauge(name: "medrex_certificate_expiry_seconds", labels: [("kind", item.kind), ("file", item.file.lastPathComponent)]).set(seconds)
            let metadata: Logger.Metadata = [
                "kind": "\(item.kind)", "file": "\(item.file.path)", "expires": "\(earliest)", "days left": "\(Int((seconds / 86_400).rounded(.down)))",
            ]
            if seconds < Self.errorThreshold, firstReport(item, "7d") {
                logger.error("a certificate expires within 7 days (or has expired): renew it, then send the node SIGHUP (TLS) or restart it (signing)", metadata: metadata)
            } else if seconds < Self.warningThreshold, firstReport(item, "30d") {
                logger.warning("a certificate expires within 30 days", metadata: metadata)
            }
        }
        return left
    }

    private func firstReport(_ item: Watched, _ threshold: String) -> Bool {
        reported.withLock { $0.insert("\(item.file.path)#\(threshold)").inserted }
    }

    /// Checks now and then every `interval` until the task is cancelled.
    package func run(every interval: Duration = .seconds(3600)) async {
        while !Task.isCancelled {
            check(now: Date())
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
