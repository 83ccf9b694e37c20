/// Where a channel's ordering state lives in etcd, under `medrex/ordering/<channel>/<genesis>/`,
/// `<genesis>` being the first 8 bytes of the genesis block's header hash in hex, so that a channel
/// created again under the same name (a test, a benchmark) never reads another chain's blocks:
///
/// - `leader`: the advertised endpoint of the orderer that leads, attached to its lease;
/// - `blocks/<number>`: block `number`, a serialized `common.Block`, written once (create-if-absent)
///   by the leader; the number is 20 decimal digits, zero-padded, so that key order is block order;
/// - `persisted/<endpoint>`: the height (decimal) that the orderer at `endpoint` has fsynced locally.
package struct EtcdLogKeys: Sendable, Hashable {
    package let channel: String
    private let root: String

    package init(channel: String, genesisHash: [UInt8]) {
        self.channel = channel
        let chain = genesisHash.prefix(8).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        root = "medrex/ordering/\(channel)/\(chain)/"
    }

    package var leader: [UInt8] { Array((root + "leader").utf8) }

    package var blocksPrefix: [UInt8] { Array((root + "blocks/").utf8) }

    /// The first key after every block key (the exclusive end of block ranges).
    package var blocksEnd: [UInt8] { Array((root + "blocks0").utf8) }

    package func block(_ number: UInt64) -> [UInt8] {
        let digits = String(number)
        return blocksPrefix + Array((String(repeating: "0", count: 20 - digits.count) + digits).utf8)
    }

    /// The block number of a block key; nil for any other key.
    package func blockNumber(of key: [UInt8]) -> UInt64? {
        guard key.count == blocksPrefix.count + 20, key.starts(with: blocksPrefix) else { return nil }
        return UInt64(String(decoding: key[blocksPrefix.count...], as: UTF8.self))
    }

    package var persistedPrefix: [UInt8] { Array((root + "persisted/").utf8) }

    package func persisted(by endpoint: String) -> [UInt8] { persistedPrefix + Array(endpoint.utf8) }
}
