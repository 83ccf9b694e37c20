import Foundation
import LedgerWire
import NetworkConfig
import SwiftProtobuf
import Committer
import GatewayService
import NodeClients
import PhiService

/// A channel joined through `PeerAdmin/JoinChannel`, kept in the peer's data directory so the peer
/// joins it again on every start: `channels/<channel>.block` (the genesis block) and
/// `channels/<channel>.chaincodes` (one `name version` per line).
package struct JoinedChannelRecord {
    package let channelID: String
    package let genesis: Common_Block
    package let chaincodes: [(name: String, version: String)]
    package let file: URL

    package static func directory(in data: URL) -> URL { data.appendingPathComponent("channels") }

    /// Every recorded channel, sorted by name.
    package static func all(in data: URL) throws -> [JoinedChannelRecord] {
        let directory = directory(in: data)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return try names.filter { $0.hasSuffix(".block") }.sorted().map { name in
            let file = directory.appendingPathComponent(name)
            let channelID = String(name.dropLast(".block".count))
            let genesis: Common_Block
            do {
                genesis = try Common_Block(serializedBytes: try Data(contentsOf: file))
            } catch {
                throw ConfigError(.unreadable, file: file.path, line: nil, field: "", reason: "not a readable genesis block: \(error)")
            }
            let listing = (try? String(contentsOf: directory.appendingPathComponent("\(channelID).chaincodes"), encoding: .utf8)) ?? ""
            let chaincodes = listing.split(separator: "\n").compactMap { line -> (String, String)? in
                let parts = line.split(separator: " ")
                return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
            }
            return JoinedChannelRecord(channelID: channelID, genesis: genesis, chaincodes: chaincodes, file: file)
        }
    }

    /// Records a joined channel (chaincodes first, then the block, each written atomically).
    package static func write(genesis: Common_Block, channelID: String, chaincodes: [(name: String, version: String)], in data: URL) throws {
        let directory = directory(in: data)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let listing = chaincodes.map { "\($0.name) \($0.version)\n" }.joined()
        try Data(listing.utf8).write(to: directory.appendingPathComponent("\(channelID).chaincodes"), options: .atomic)
        try genesis.serializedData().write(to: directory.appendingPathComponent("\(channelID).block"), options: .atomic)
    }
}
