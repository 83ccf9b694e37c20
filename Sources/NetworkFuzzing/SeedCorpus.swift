import Foundation
import LedgerWire

/// The libFuzzer seeds in `Fuzz/Seeds/TARGET/*` (Fabric's recorded vectors and inputs built with
/// the fuzz PKI), grouped by the kind of message they are, for the methods whose requests are or
/// contain such messages.
package struct SeedCorpus: Sendable {
    /// A seed file larger than this is skipped.
    static let seedBytesMax = 1 << 20

    package var envelopes: [[UInt8]] = []
    package var signedProposals: [[UInt8]] = []
    package var blocks: [[UInt8]] = []
    package var serializedIdentities: [[UInt8]] = []
    /// Every seed, whatever its kind: material for splicing.
    package var all: [[UInt8]] = []
    /// The seeds that are neither a config block nor a CONFIG envelope: what may go into a request
    /// an admin signs. A JoinChannel signed by an admin and carrying a config block (Fabric's
    /// genesis block is a seed) would really join the peer to that channel.
    package var withoutConfiguration: [[UInt8]] = []

    package init() {}

    /// Reads `directory` (a `Fuzz/Seeds`); a missing directory gives an empty corpus.
    package init(directory: URL) throws {
        let files = FileManager.default
        let targets = (try? files.contentsOfDirectory(atPath: directory.path).sorted()) ?? []
        for target in targets {
            let folder = directory.appendingPathComponent(target)
            for name in (try? files.contentsOfDirectory(atPath: folder.path).sorted()) ?? [] {
                let data = try Data(contentsOf: folder.appendingPathComponent(name))
                guard data.count <= Self.seedBytesMax else { continue }
                add(Array(data), target: target, name: name)
            }
        }
    }

    private mutating func add(_ bytes: [UInt8], target: String, name: String) {
        all.append(bytes)
        if !Self.holdsConfiguration(bytes) { withoutConfiguration.append(bytes) }
        switch target {
        case "envelope", "signed-envelope": envelopes.append(bytes)
        case "proposal", "signed-proposal": signedProposals.append(bytes)
        case "block": blocks.append(bytes)
        case "identity" where name.hasPrefix("serialized-") || name.hasPrefix("fabric-serialized-"): serializedIdentities.append(bytes)
        default: break
        }
    }

    package var count: Int { all.count }

    /// Whether `bytes` decode as a CONFIG envelope or as a block whose first envelope is one.
    static func holdsConfiguration(_ bytes: [UInt8]) -> Bool {
        if let block = try? Common_Block(serializedBytes: bytes), let first = block.data.data.first, isConfiguration(envelope: first) { return true }
        return isConfiguration(envelope: Data(bytes))
    }

    static func isConfiguration(envelope bytes: Data) -> Bool {
        guard let envelope = try? Common_Envelope(serializedBytes: bytes), let payload = try? Common_Payload(serializedBytes: envelope.payload),
            let header = try? Common_ChannelHeader(serializedBytes: payload.header.channelHeader)
        else { return false }
        return header.type == Int32(Common_HeaderType.config.rawValue) || header.type == Int32(Common_HeaderType.configUpdate.rawValue)
    }
}
