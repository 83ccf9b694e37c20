import RPCTransport
import ArgumentParser
import Endorser
import Foundation
import GRPCCore
import LedgerCore
import Identity
import LedgerWire
import NetworkConfig
import PeerDaemon
import Committer
import GatewayService
import NodeClients

struct ChaincodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaincode",
        abstract: "Install chaincodes, approve and commit their definitions, invoke and query them.",
        subcommands: [Install.self, Query.self, Invoke.self, Approve.self, Commit.self]
    )

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install a chaincode plugin into a peer's data directory: a built .so, or a Swift package directory that is built first (release)."
        )

        @Argument(help: "A plugin library (.so) or a chaincode package directory.") var path: String
        @Option(help: "The peer's data directory (the `data` of its peer.yaml).") var data: String
        @Option(help: "Name to install under (default: the library name without lib and .so).") var name: String?

        func run() throws {
            let library = try resolveLibrary(URL(fileURLWithPath: path))
            // Load it here first: a plugin this SDK refuses is never installed.
            let contract = try ChaincodePluginLoader.load(path: library.path)
            let installName = name ?? Self.defaultName(library)
            let directory = URL(fileURLWithPath: data).appendingPathComponent("chaincodes")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let destination = directory.appendingPathComponent("\(installName).so")
            let staging = directory.appendingPathComponent(".\(installName).so.installing")
            try? FileManager.default.removeItem(at: staging)
            try FileManager.default.copyItem(at: library, to: staging)
            if FileManager.default.fileExists(atPath: destination.path) {
                _ = try FileManager.default.replaceItemAt(destination, withItemAt: staging)
            } else {
                try FileManager.default.moveItem(at: staging, to: destination)
            }
            print("installed chaincode '\(installName)' (functions: \(contract.router.functionNames.joined(separator: ", "))) at \(destination.path)")
        }

        static func defaultName(_ library: URL) -> String {
            var base = library.deletingPathExtension().lastPathComponent
            if base.hasPrefix("lib") { base.removeFirst(3) }
            return base
        }

        private func resolveLibrary(_ url: URL) throws -> URL {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw ValidationError("\(url.path) does not exist")
            }
            guard isDirectory.boolValue else { return url }
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) else {
                throw ValidationError("\(url.path) is a directory without Package.swift")
            }
            print("building \(url.path) (release) ...")
            try runSwift(["build", "-c", "release", "--package-path", url.path])
            let binPath = try runSwift(["build", "-c", "release", "--package-path", url.path, "--show-bin-path"], capture: true)
            let bin = URL(fileURLWithPath: binPath.trimmingCharacters(in: .whitespacesAndNewlines))
            let libraries = try FileManager.default.contentsOfDirectory(atPath: bin.path)
                .filter { $0.hasPrefix("lib") && $0.hasSuffix(".so") && $0 != "libChaincode.so" }
            guard libraries.count == 1 else {
                throw ValidationError("expected one chaincode library in \(bin.path), found \(libraries.isEmpty ? "none" : libraries.joined(separator: ", "))")
            }
            return bin.appendingPathComponent(libraries[0])
        }

        @discardableResult
        private func runSwift(_ arguments: [String], capture: Bool = false) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["swift"] + arguments
            let pipe = Pipe()
            if capture { process.standardOutput = pipe }
            try process.run()
            let output = capture ? pipe.fileHandleForReading.readDataToEndOfFile() : Data()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw ValidationError("swift \(arguments.joined(separator: " ")) failed") }
            return String(decoding: output, as: UTF8.self)
        }
    }

    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a chaincode function on one peer's endorser (no ordering, nothing committed) and print its result."
        )

        @Option(help: "Crypto material directory written by `medrex crypto generate`.") var crypto: String
        @Option(help: "The caller's organization (as named in network.yaml).") var org: String
        @Option(help: "The caller's MSP id.") var mspID: String
        @Option(help: "The caller: a user or admin of that organization.") var user: String
        @Option(help: "The peer's organization, whose TLS CA the peer's certificate must chain to.") var peerOrg: String
        @Option(help: "The peer's address, host:port.") var peer: String
        @Option(help: "Channel name.") var channel: String
        @Option(help: "Chaincode name.") var name: String
        @Argument(help: "The function and its arguments.") var arguments: [String]

        func run() async throws {
            let root = URL(fileURLWithPath: crypto)
            let member = CryptoMaterialLayout(root: root, organization: org).member(kind: .user, name: user)
            let signer = try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: mspID)
            guard let colon = peer.lastIndex(of: ":"), let port = Int(peer[peer.index(after: colon)...]) else {
                throw ValidationError("--peer must be host:port")
            }
            let tls = MutualTLS(
                certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey,
                trustedCAs: [CryptoMaterialLayout(root: root, organization: peerOrg).tlsCACertificate])
            let proposal = try ProposalFactory.make(channel: channel, chaincode: name, arguments: arguments, signer: signer, timestamp: Date())
            let response = try await EndorserClient.processProposal(proposal, host: String(peer[..<colon]), port: port, tls: tls)
            guard response.response.status < 400 else {
                throw CommandFailure("peer answered \(response.response.status): \(response.response.message)")
            }
            print(String(decoding: response.response.payload, as: UTF8.self))
        }
    }
}

/// Who calls which peer's gateway on which channel: the options `invoke`, `approve` and `commit` share.
struct GatewayOptions: ParsableArguments {
    @Option(help: "Crypto material directory written by `medrex crypto generate`.") var crypto: String
    @Option(help: "The caller's organization (as named in network.yaml).") var org: String
    @Option(help: "The caller's MSP id.") var mspID: String
    @Option(help: "The caller: a user or admin of that organization.") var user: String
    @Option(help: "The gateway peer's organization, whose TLS CA the peer's certificate must chain to.") var peerOrg: String
    @Option(help: "The gateway peer's address, host:port.") var peer: String
    @Option(help: "Channel name.") var channel: String

    /// Submits one transaction and waits for its commit; prints the txid, code and block, and
    /// fails unless it committed VALID.
    func submitAndWait(chaincode: String, arguments: [String]) async throws {
        let root = URL(fileURLWithPath: crypto)
        let member = CryptoMaterialLayout(root: root, organization: org).member(kind: .user, name: user)
        let signer = try CryptoMaterialLoader.loadSigningIdentity(member.msp, mspID: mspID)
        guard let address = NodeAddress(peer) else { throw ValidationError("--peer must be host:port") }
        let tls = MutualTLS(
            certificate: member.tlsCertificate, privateKey: member.tlsPrivateKey,
            trustedCAs: [CryptoMaterialLayout(root: root, organization: peerOrg).tlsCACertificate])
        let channel = self.channel
        let (txID, status) = try await GatewayClient.withConnection(host: address.host, port: address.port, tls: tls, signer: signer) { gateway in
            do {
                let txID = try await gateway.submit(channel: channel, chaincode: chaincode, arguments: arguments)
                return (txID, try await gateway.commitStatus(channel: channel, transactionID: txID))
            } catch let error as RPCError {
                throw CommandFailure("gateway refused: \(error.message)")
            }
        }
        print("txid \(txID): \(status.result.name) in block \(status.blockNumber)")
        guard status.result == .valid else { throw CommandFailure("transaction \(txID) committed as invalid: \(status.result.name) (\(status.result.cause))") }
    }
}

extension ChaincodeCommand {
    struct Invoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Submit a transaction through a peer's gateway (endorse, sign, order) and wait until it commits; prints the txid, the validation code and the block."
        )

        @OptionGroup var gateway: GatewayOptions
        @Option(help: "Chaincode name.") var name: String
        @Argument(help: "The function and its arguments.") var arguments: [String]

        func run() async throws {
            try await gateway.submitAndWait(chaincode: name, arguments: arguments)
        }
    }

    /// The definition options of `approve` and `commit`.
    struct Definition: ParsableArguments {
        @Option(help: "Chaincode name.") var name: String
        @Option(help: "Chaincode version (must equal the version the peers install).") var version: String
        @Option(help: "Definition sequence: 1 for the first, +1 for each change.") var sequence: Int
        @Option(help: "Endorsement policy (default: the channel's).") var policy: String?

        var arguments: [String] { [name, version, "\(sequence)"] + (policy.map { [$0] } ?? []) }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a chaincode definition for your organization (as its admin), through `_lifecycle`."
        )

        @OptionGroup var gateway: GatewayOptions
        @OptionGroup var definition: Definition

        func run() async throws {
            try await gateway.submitAndWait(chaincode: ChaincodeDefinition.namespace, arguments: ["approve"] + definition.arguments)
        }
    }

    struct Commit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Commit a chaincode definition a majority of the channel's organizations approved; peers use it from the next block."
        )

        @OptionGroup var gateway: GatewayOptions
        @OptionGroup var definition: Definition

        func run() async throws {
            try await gateway.submitAndWait(chaincode: ChaincodeDefinition.namespace, arguments: ["commit"] + definition.arguments)
        }
    }
}

/// A failure of a command that ran correctly but got a refusal: printed as `Error: ...` without
/// the usage text ArgumentParser prints for a `ValidationError`.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
