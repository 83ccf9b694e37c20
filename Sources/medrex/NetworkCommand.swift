import ArgumentParser
import Foundation
import NetworkConfig

/// `medrex network render`: every node's configuration and a start script per host, from network.yaml.
struct NetworkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network", abstract: "Work with a whole network description.", subcommands: [Render.self])

    struct Render: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every orderer.yaml and peer.yaml, and a start script per host, from network.yaml.",
            discussion: """
                Files go to OUTPUT/HOST/: NODE.yaml for each orderer, PEER-ORG.yaml for each peer, and start.sh, which starts \
                that host's etcd members and nodes. Copy each host's directory to its host together with the crypto material \
                (--crypto, as seen from that directory) and the genesis blocks (CHANNEL.block), and run start.sh there.
                """)

        @Option(help: "The network description.") var config = "network-config/network.yaml"
        @Option(help: "Where to write the files (one directory per host).") var output: String
        @Option(help: "A channel the nodes join (repeatable; default: every channel of network.yaml).") var channel: [String] = []
        @Option(help: "A chaincode defined on the peers' channels, NAME:VERSION (repeatable).") var chaincode: [String] = []
        @Option(help: "The crypto material directory as the nodes see it (relative to each host's directory, or absolute).") var crypto = "crypto"
        @Flag(help: "Listen on 0.0.0.0 (the nodes are still dialled at their host).") var listenOnAllInterfaces = false
        @Flag(help: "Give each peer the PHI service (embedded store) on its first channel.") var phi = false
        @Option(help: "With --phi: ORG=postgres://USER@HOST:PORT/DATABASE, the PostgreSQL server of ORG's PHI store (repeatable).")
        var phiPostgres: [String] = []
        @Option(help: "The CA certificate of the PostgreSQL servers' certificates (--phi-postgres).") var phiPostgresCa: String?
        @Option(help: "With --phi: ORG=TOKEN, ORG's custodian key in the PKCS#11 token labelled TOKEN (repeatable).") var phiHsm: [String] = []
        @Option(help: "The PKCS#11 library of the --phi-hsm tokens.") var phiHsmLibrary = "/usr/lib/softhsm/libsofthsm2.so"
        @Option(help: "A file holding the --phi-hsm tokens' user PIN (else the peers read MEDREX_PHI_HSM_PIN).") var phiHsmPinFile: String?
        @Option(help: "A top-level setting added to every orderer's file, KEY=VALUE (repeatable), e.g. reorderBlocks=true.")
        var ordererSetting: [String] = []
        @Option(help: "A top-level setting added to every peer's file, KEY=VALUE (repeatable), e.g. earlyAbort=true.") var peerSetting: [String] = []
        @Option(help: "A role of every peer, endorser or committer (repeatable; default: both).") var peerRole: [String] = []
        @Flag(help: "Replace files that exist.") var force = false

        func run() async throws {
            let network = try NetworkDescription.load(file: config)
            var options = NetworkRenderer.Options()
            options.channels = channel.isEmpty ? nil : channel
            options.chaincodes = try chaincode.map { text in
                let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw ValidationError("--chaincode takes NAME:VERSION, not '\(text)'")
                }
                return (parts[0], parts[1])
            }
            options.crypto = crypto
            if !phiPostgres.isEmpty {
                guard phi else { throw ValidationError("--phi-postgres needs --phi") }
                guard let phiPostgresCa else { throw ValidationError("--phi-postgres needs --phi-postgres-ca: PHI is stored over TLS only") }
                for text in phiPostgres {
                    let (organization, url) = try Self.pair(text, option: "--phi-postgres", shape: "ORG=postgres://USER@HOST:PORT/DATABASE")
                    guard let server = NetworkRenderer.PostgresServer(url: url, rootCA: phiPostgresCa) else {
                        throw ValidationError("--phi-postgres takes ORG=postgres://USER@HOST:PORT/DATABASE with plain names, not '\(text)'")
                    }
                    options.phiPostgres[organization] = server
                }
            }
            if !phiHsm.isEmpty {
                guard phi else { throw ValidationError("--phi-hsm needs --phi") }
                for text in phiHsm {
                    let (organization, token) = try Self.pair(text, option: "--phi-hsm", shape: "ORG=TOKEN")
                    options.phiHSM[organization] = PhiSettings.HSM(
                        library: phiHsmLibrary, token: token, pinFile: phiHsmPinFile.map { URL(fileURLWithPath: $0).standardizedFileURL })
                }
            }
            options.ordererSettings = try ordererSetting.map { try Self.pair($0, option: "--orderer-setting", shape: "KEY=VALUE") }
            if !peerRole.isEmpty { options.peerRoles = peerRole }
            options.peerSettings = try peerSetting.map { try Self.pair($0, option: "--peer-setting", shape: "KEY=VALUE") }
            options.listenOnAllInterfaces = listenOnAllInterfaces
            options.phiService = phi
            let files = try NetworkRenderer(network: network, options: options).render()
            let root = URL(fileURLWithPath: output)
            if !force, let existing = files.first(where: { FileManager.default.fileExists(atPath: root.appendingPathComponent($0.path).path) }) {
                throw ValidationError("\(root.appendingPathComponent(existing.path).path) exists; pass --force to replace the rendered files")
            }
            for file in files {
                let url = root.appendingPathComponent(file.path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(file.contents.utf8).write(to: url)
                if file.executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path) }
            }
            for file in files { print(root.appendingPathComponent(file.path).path) }
        }

        /// Splits `NAME=VALUE` at its first `=`.
        static func pair(_ text: String, option: String, shape: String) throws -> (String, String) {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ValidationError("\(option) takes \(shape), not '\(text)'") }
            return (parts[0], parts[1])
        }
    }
}
