/// Transport settings of Medrex's gRPC servers (`NodeServerTransport`).
package enum ServerTransportSettings {
    /// Streams one client connection may have open at once. It is advertised explicitly: without
    /// it, clients assume HTTP/2's customary 100, and a gateway client with 1,000 transactions in
    /// flight (each a CommitStatus call held until its block commits) queues behind that.
    package static let concurrentStreamsMax = 16_384
}
