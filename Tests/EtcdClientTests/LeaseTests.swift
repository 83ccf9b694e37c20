import EtcdClient
import Testing

@Suite struct LeaseTests {
    /// TTL 5 s: with 2 s, a loaded 2-core machine running the whole suite can starve the renewals.
    @Test func keyStaysWhileKeptAliveAndGoesWhenTheLeaseExpires() async throws {
        try await withEtcd { _, client in
            let lease = try await client.grantLease(ttlSeconds: 5)
            #expect(lease.ttlSeconds >= 5)
            try await client.put(bytes("leader"), bytes("orderer0"), lease: lease.id)
            #expect(try await client.get(bytes("leader"))?.lease == lease.id)

            let keepAlive = Task { try await client.keepAlive(lease) }
            // Two TTLs and more: without renewals the key would be gone by now.
            try await Task.sleep(for: .seconds(2 * lease.ttlSeconds) + .milliseconds(500))
            #expect(try await client.get(bytes("leader"))?.value == bytes("orderer0"))

            // Cancelling the keep-alive returns normally, and the lease then runs out.
            keepAlive.cancel()
            try await keepAlive.value
            let expired = try await eventually(within: .seconds(lease.ttlSeconds + 4)) {
                try await client.get(bytes("leader")) == nil
            }
            #expect(expired, "the key of an expired lease is still there")
        }
    }

    @Test func keyOfAnUnrenewedLeaseDisappears() async throws {
        try await withEtcd { _, client in
            let lease = try await client.grantLease(ttlSeconds: 2)
            #expect(try await client.createIfAbsent(bytes("leader"), bytes("orderer1"), lease: lease.id))
            let expired = try await eventually(within: .seconds(lease.ttlSeconds + 4)) {
                try await client.get(bytes("leader")) == nil
            }
            #expect(expired, "the key of an expired lease is still there")
            // The lease is gone too: keeping it alive reports the loss.
            let error = await #expect(throws: EtcdError.self) { try await client.keepAlive(lease) }
            #expect(error?.code == .leaseExpired)
        }
    }

    @Test func keepAliveReportsARevokedLease() async throws {
        try await withEtcd { _, client in
            let lease = try await client.grantLease(ttlSeconds: 5)
            try await client.put(bytes("leader"), bytes("orderer2"), lease: lease.id)
            let keepAlive = Task { try await client.keepAlive(lease) }
            try await Task.sleep(for: .milliseconds(300))
            try await client.revokeLease(lease.id)
            #expect(try await client.get(bytes("leader")) == nil)

            // The next renewal (within a third of the TTL) finds the lease gone: etcd says so, before
            // the client's own clock would have given up on the lease.
            let error = await #expect(throws: EtcdError.self) { try await keepAlive.value }
            #expect(error?.code == .leaseExpired)
            #expect(error?.message.contains("expired or was revoked") == true, "\(String(describing: error))")

            let revokeAgain = await #expect(throws: EtcdError.self) { try await client.revokeLease(lease.id) }
            #expect(revokeAgain?.code == .leaseNotFound)
        }
    }
}
