import ArgumentParser
import Foundation
import NetworkConfig

struct CryptoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crypto",
        abstract: "Key material for a network.",
        subcommands: [Generate.self]
    )

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate CAs, node, admin and user certificates and keys from a network description."
        )

        @Option(name: .long, help: "The network description (YAML).")
        var config: String = "network-config/network.yaml"

        @Option(name: .long, help: "Directory to write the material into; must not exist unless --force.")
        var output: String

        @Flag(name: .long, help: "Replace an existing output that this command wrote before, keeping each organization's CA, TLS CA and CRLs (members are issued anew from them; new organizations get CAs of their own).")
        var force = false

        @Flag(name: .customLong("new-cas"), help: "With --force: replace the CAs too. Channels created with the old CAs then refuse every new certificate.")
        var newCAs = false

        func run() async throws {
            // A ConfigError names the file, line and field; ArgumentParser prints it as "Error: ...".
            let network = try NetworkDescription.load(file: config)
            // Backdated a little so that a machine whose clock runs slightly behind accepts them.
            let generator = CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-300))
            guard force || !newCAs else { throw ValidationError("--new-cas replaces existing material: it needs --force") }
            let summary = try generator.write(to: URL(fileURLWithPath: output), force: force, newCAs: newCAs)
            print("Crypto material for network '\(network.name)' written to \(output)")
            for organization in summary.organizations {
                print("  \(organization.name) (\(organization.mspID)): \(organization.orderers) orderers, \(organization.peers) peers, \(organization.admins) admins, \(organization.users) users")
            }
            print("  \(summary.certificateCount) certificates, \(summary.privateKeyCount) private keys (mode 0600)")
        }
    }
}
