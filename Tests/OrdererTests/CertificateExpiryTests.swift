import Foundation
import Identity
import InMemoryLogging
import Logging
import Operations
import Prometheus
import Testing
import TestSupport
import X509

/// The certificates a node uses, watched for expiry: a gauge per file, a warning at 30 days and an
/// error at 7, each once.
@Suite struct CertificateExpiryTests {
    @Test func gaugesAndWarningsFollowTheDaysLeft() throws {
        let pki = try TestPKI(mspID: "OrdererMSP", domain: "orderer.test")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-expiry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func write(_ name: String, days: Double) throws -> URL {
            let file = directory.appendingPathComponent(name)
            try pki.identity(name, units: ["orderer"], days: days).certificate.serializeAsPEM().pemString.write(to: file, atomically: true, encoding: .utf8)
            return file
        }
        let longLived = try write("signing.pem", days: 300)
        let soon = try write("tls.pem", days: 20)
        let garbage = directory.appendingPathComponent("garbage.pem")
        try "not a certificate".write(to: garbage, atomically: true, encoding: .utf8)
        let ca = directory.appendingPathComponent("ca.pem")
        try pki.ca.certificate.serializeAsPEM().pemString.write(to: ca, atomically: true, encoding: .utf8)
        let handler = InMemoryLogHandler()
        let registry = PrometheusCollectorRegistry()
        let expiry = CertificateExpiry(
            watched: [.init(kind: "signing", file: longLived), .init(kind: "tls", file: soon), .init(kind: "ca", file: ca), .init(kind: "tls", file: garbage)],
            registry: registry, logger: Logger(label: "test") { _ in handler })
        let now = TestPKI.epoch
        let left = expiry.check(now: now)
        #expect(left[.init(kind: "signing", file: longLived)].map { Int($0 / 86_400) } == 300)
        #expect(left[.init(kind: "tls", file: soon)].map { Int($0 / 86_400) } == 20)
        #expect(left[.init(kind: "tls", file: garbage)] == nil)
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        let metrics = String(decoding: buffer, as: UTF8.self)
        #expect(metrics.contains("medrex_certificate_expiry_seconds{kind=\"tls\",file=\"tls.pem\"} 1728000"), "\(metrics)")
        #expect(metrics.contains("medrex_certificate_expiry_seconds{kind=\"signing\",file=\"signing.pem\"} 25920000"), "\(metrics)")
        let warnings = handler.entries.filter { $0.level == .warning }.map(\.message.description)
        #expect(warnings.filter { $0.contains("within 30 days") }.count == 1)
        #expect(warnings.contains { $0.contains("cannot be read") })
        // Checked again a day later: nothing new to say; 14 days later the TLS certificate is within 7 days.
        expiry.check(now: now.addingTimeInterval(86_400))
        #expect(handler.entries.filter { $0.message.description.contains("within 30 days") }.count == 1)
        expiry.check(now: now.addingTimeInterval(14 * 86_400))
        let errors = handler.entries.filter { $0.level == .error }
        #expect(errors.count == 1 && errors[0].metadata["file"] == "\(soon.path)")
        // Expired: the gauge goes negative.
        expiry.check(now: now.addingTimeInterval(21 * 86_400))
        buffer = []
        registry.emit(into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self).contains("medrex_certificate_expiry_seconds{kind=\"tls\",file=\"tls.pem\"} -86400"))
    }
}
