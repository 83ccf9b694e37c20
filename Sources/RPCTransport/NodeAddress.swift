/// A node's gRPC address, `host:port`.
package struct NodeAddress: Sendable, Hashable, CustomStringConvertible {
    package let host: String
    package let port: Int
    package var description: String { "\(host):\(port)" }

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`; nil when it is not that.
    package init?(_ address: String) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port),
            colon > address.startIndex
        else { return nil }
        host = String(address[..<colon])
        self.port = port
    }
}
