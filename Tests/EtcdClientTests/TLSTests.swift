import EtcdClient
import Foundation
import RPCTransport
import Testing
import TestSupport

/// etcd is reached over mutual TLS only: the client with the cluster's certificate works; a client
/// certificate from another CA is refused by etcd; a client that does not trust the cluster's CA
/// refuses the member; the client port does not answer plaintext.
@Suite struct TLSTests {
    @Test func onlyMutuallyAuthenticatedClientsAreServed() async throws {
        try await withEtcd { cluster, client in
            try await client.put(bytes("k"), bytes("v"))
            #expect(try await client.get(bytes("k"))?.value == bytes("v"))

            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-etcd-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let stranger = try EtcdCluster.strangerTLS(trusting: cluster, in: directory)
            let refused = try EtcdClient(endpoints: cluster.endpoints, tls: stranger, callTimeout: .seconds(2))
            let refusedError = await #expect(throws: EtcdError.self) { try await refused.get(bytes("k")) }
            #expect(refusedError?.code == .unavailable || refusedError?.code == .timeout)
            await refused.close()

            // Our certificate, but trusting only a certificate that did not sign the member's: the
            // member is refused.
            var distrusting = cluster.clientTLS
            distrusting.trustedCAs = [stranger.certificate]
            let suspicious = try EtcdClient(endpoints: cluster.endpoints, tls: distrusting, callTimeout: .seconds(2))
            let suspiciousError = await #expect(throws: EtcdError.self) { try await suspicious.get(bytes("k")) }
            #expect(suspiciousError?.code == .unavailable || suspiciousError?.code == .timeout)
            await suspicious.close()

            // Plain HTTP to the client port gets no answer from etcd's API.
            let plaintext = try? await HTTP.get("http://\(cluster.endpoints[0])/health")
            #expect(plaintext == nil || plaintext?.status != 200, "etcd answered plaintext: \(String(describing: plaintext))")
            // The trusted client still works after the refusals.
            #expect(try await client.get(bytes("k"))?.value == bytes("v"))
        }
    }
}

extension TLSTests {
    @Test func unusableTLSFilesAreRefusedWhenTheClientIsMade() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-etcd-tls-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = try EtcdCluster.standaloneTLS(in: directory, name: "good")
        let other = try EtcdCluster.standaloneTLS(in: directory, name: "other")
        let garbage = directory.appendingPathComponent("garbage.pem")
        try Data("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".utf8).write(to: garbage)
        var cases: [(String, MutualTLS)] = []
        var missingKey = good
        missingKey.privateKey = directory.appendingPathComponent("absent-key.pem")
        cases.append(("absent-key.pem", missingKey))
        var garbageCA = good
        garbageCA.trustedCAs = [garbage]
        cases.append(("garbage.pem", garbageCA))
        var mismatched = good
        mismatched.privateKey = other.privateKey
        cases.append(("does not go with", mismatched))
        var noCA = good
        noCA.trustedCAs = []
        cases.append(("no trusted CA", noCA))
        for (expected, tls) in cases {
            let error = #expect(throws: EtcdError.self) { _ = try EtcdClient(endpoints: ["127.0.0.1:2379"], tls: tls) }
            #expect(error?.code == .invalidArgument)
            #expect("\(error.map { "\($0)" } ?? "")".contains(expected), "\(String(describing: error))")
        }
        // The usable files make a client (nothing connects until the first call).
        let client = try EtcdClient(endpoints: ["127.0.0.1:2379"], tls: good)
        await client.close()
    }
}
