@testable import EtcdClient
import Testing

@Suite struct EndpointAndRangeTests {
    @Test func parsesEndpoints() throws {
        #expect(try EtcdEndpoint(parsing: "127.0.0.1:2379") == EtcdEndpoint(host: "127.0.0.1", port: 2379))
        #expect(try EtcdEndpoint(parsing: "http://etcd-0:2379/") == EtcdEndpoint(host: "etcd-0", port: 2379))
        #expect(try EtcdEndpoint(parsing: "[::1]:2379") == EtcdEndpoint(host: "::1", port: 2379))
        #expect(EtcdEndpoint(host: "::1", port: 2379).description == "[::1]:2379")
        for bad in ["", "etcd", "etcd:", ":2379", "etcd:0", "etcd:70000", "etcd:port"] {
            let error = #expect(throws: EtcdError.self) { try EtcdEndpoint(parsing: bad) }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test func prefixRangesEndAfterTheLastKeyWithThePrefix() {
        #expect(KeyRange.prefix([0x61]).wireBounds.rangeEnd == [0x62])
        #expect(KeyRange.prefix([0x61, 0xff]).wireBounds.rangeEnd == [0x62])
        #expect(KeyRange.prefix([0xff, 0xff]).wireBounds.rangeEnd == [0])
        #expect(KeyRange.prefix([]).wireBounds == ([0], [0]))
        #expect(KeyRange.key([1]).wireBounds.rangeEnd == [])
        #expect(KeyRange.startingAt([1]).wireBounds.rangeEnd == [0])
    }
}
