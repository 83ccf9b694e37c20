import Foundation

/// `medrex network render`: every node's configuration file (`orderer.yaml`, `peer.yaml`) and a
/// start script per host, from `network.yaml`. A multi-host deployment is then one directory per
/// host: copy it (with the crypto material and the channels' genesis blocks) and run its
/// `start.sh`. Nodes listen on their `host` (or on every interface) and are dialled at it; etcd
/// members are started by the script of their host.
package struct NetworkRenderer {
    package struct Options: Sendable {
        /// Channels the nodes join (default: every channel of network.yaml); their genesis blocks
        /// are expected beside the rendered files as `CHANNEL.block`.
        package var channels: [String]?
        /// Chaincodes defined on every channel a peer joins (name and version).
        package var chaincodes: [(name: String, version: String)] = []
        /// The crypto material directory (`medrex crypto generate`) as the nodes see it, relative
        /// to each host's directory or absolute.
        package var crypto = "crypto"
        /// Listen on 0.0.0.0 instead of the node's host (behind NAT or with several interfaces).
        package var listenOnAllInterfaces = false
        /// Give each peer the PHI service on the first channel, with its embedded store unless
        /// `phiPostgres` names a PostgreSQL server for its organization.
        package var phiService = false
        /// The PostgreSQL server of an organization's PHI store, by organization name.
        package var phiPostgres: [String: PostgresServer] = [:]
        /// With `phiService`: the organizations whose peers get it (nil: every organization's).
        package var phiOrganizations: Set<String>?
        /// With `phiService`: how long a pending record may wait for its anchor (`phi.pendingTimeoutSeconds`).
        package var phiPendingTimeoutSeconds: Int?
        /// With `phiService`: organizations whose custodian key lives in a PKCS#11 token
        /// (`phi.hsm`; the PIN from MEDREX_PHI_HSM_PIN or the given pin file).
        package var phiHSM: [String: PhiSettings.HSM] = [:]
        /// With `phiService`: `phi.rewrap` of every PHI peer (nil: the defaults).
        package var phiRewrap: PhiSettings.Rewrap?
        /// An etcd cluster run apart from network.yaml's members (a bench's): the orderers dial
        /// these endpoints with these TLS files, and no start script starts etcd.
        package var externalEtcd: ExternalEtcd?
        /// The roles every peer gets (default: endorser and committer).
        package var peerRoles: [String] = ["endorser", "committer"]
        /// Top-level settings added to every orderer's file (`reorderBlocks: true`, say), by key.
        package var ordererSettings: [(key: String, value: String)] = []
        /// Top-level settings added to every peer's file (`earlyAbort: true`, say), by key.
        package var peerSettings: [(key: String, value: String)] = []

        package init() {}
    }

    /// A PostgreSQL server for an organization's PHI store (always over TLS).
    package struct PostgresServer: Sendable, Equatable {
        package var host: String
        package var port: Int
        package var user: String
        package var database: String
        /// The CA certificates of the server's certificate.
        package var rootCA: String

        package init(host: String, port: Int, user: String, database: String, rootCA: String) {
            self.host = host
            self.port = port
            self.user = user
            self.database = database
            self.rootCA = rootCA
        }

        /// Parses `postgres://USER@HOST:PORT/DATABASE`; nil when it is not that.
        package init?(url: String, rootCA: String) {
            guard let components = URLComponents(string: url), components.scheme == "postgres" || components.scheme == "postgresql",
                let host = components.host, let user = components.user
            else { return nil }
            let database = String(components.path.dropFirst())
            let plain = { (text: String) in !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-_".contains($0)) } }
            let unsafeInPath = Set(",[]{}#&*!|>'\"%@\n\r")
            guard plain(host), plain(user), plain(database), !rootCA.isEmpty, !rootCA.contains(where: unsafeInPath.contains) else { return nil }
            self.init(host: host, port: components.port ?? 5432, user: user, database: database, rootCA: rootCA)
        }
    }

    /// An etcd cluster outside network.yaml: its client endpoints (`host:port`) and the orderers'
    /// TLS files for it (the CAs of its members' certificates; a client pair, or the orderer's own).
    package struct ExternalEtcd: Sendable, Equatable {
        package var endpoints: [String]
        package var rootCAs: [String]
        package var certificate: String?
        package var privateKey: String?

        package init(endpoints: [String], rootCAs: [String], certificate: String? = nil, privateKey: String? = nil) {
            self.endpoints = endpoints
            self.rootCAs = rootCAs
            self.certificate = certificate
            self.privateKey = privateKey
        }
    }

    /// One file to write, relative to the output directory.
    package struct File: Sendable, Equatable {
        package let path: String
        package let contents: String
        package let executable: Bool
    }

    package let network: NetworkDescription
    package let options: Options

    package init(network: NetworkDescription, options: Options) {
        self.network = network
        self.options = options
    }

    /// Every file: `HOST/NODE.yaml` per orderer and peer (`PEER-ORG.yaml` for peers) and
    /// `HOST/start.sh` per host.
    package func render() throws(ConfigError) -> [File] {
        let channels = try selectedChannels()
        var files: [File] = []
        var startLines: [String: [String]] = [:]
        let etcdChannels = channels.filter { $0.consensus == .etcd }
        if !etcdChannels.isEmpty, network.etcdMembers.isEmpty, options.externalEtcd == nil {
            throw ConfigError(
                .missingField, file: "network.yaml", line: nil, field: "etcd",
                reason: "channel '\(etcdChannels[0].name)' uses consensus etcd, but network.yaml lists no etcd members")
        }
        // Every etcd member of a host starts before any is waited for (a member is healthy only
        // with a quorum); the host's orderers start once its members answer /health.
        let startsEtcd = !etcdChannels.isEmpty && options.externalEtcd == nil
        for member in network.etcdMembers where startsEtcd {
            startLines[member.host, default: []].append(etcdCommand(member))
        }
        for member in network.etcdMembers where startsEtcd {
            startLines[member.host, default: []].append("wait_healthy http://\(member.host):\(member.clientPort + 3)/health \(member.name)")
        }
        try checkSettings()
        // Values written into peer.yaml as plain scalars: nothing that could end or nest one.
        for hsm in options.phiHSM.values {
            for value in [hsm.library, hsm.token, hsm.keyLabel, hsm.pinFile?.path ?? "x"]
            where value.isEmpty || value.utf8.contains(where: { !(0x21...0x7E).contains($0) || Array("\"'{}[],:#&*!|>%@`".utf8).contains($0) }) {
                throw ConfigError(.invalidValue, file: "network.yaml", line: nil, field: "phi-hsm", reason: "'\(value)' is not a plain token label or path")
            }
        }
        for name in Set(options.phiPostgres.keys).union(options.phiOrganizations ?? []).union(options.phiHSM.keys).sorted()
        where network.organization(named: name).map({ $0.peers.isEmpty }) ?? true {
            throw ConfigError(.invalidValue, file: "network.yaml", line: nil, field: "phi-postgres", reason: "no organization '\(name)' with peers in network.yaml")
        }
        for organization in network.organizations {
            for orderer in organization.orderers {
                // A solo channel is ordered only by the solo orderer; an orderer with no channel is not started.
                let ordered = channels.filter { $0.consensus == .etcd || orderer == network.soloOrderer }
                guard !ordered.isEmpty else { continue }
                files.append(File(path: "\(orderer.host)/\(orderer.name).yaml", contents: ordererYAML(orderer, organization, ordered), executable: false))
                startLines[orderer.host, default: []].append(
                    "start \(orderer.name) \"$medrex\" orderer start --config \(orderer.name).yaml")
            }
            for peer in organization.peers {
                let joined = channels.filter { $0.organizations.contains(organization.name) }
                let name = "\(peer.name)-\(organization.name)"
                files.append(File(path: "\(peer.host)/\(name).yaml", contents: peerYAML(peer, name: name, organization, joined), executable: false))
                startLines[peer.host, default: []].append("start \(name) \"$medrex\" peer start --config \(name).yaml")
            }
        }
        for (host, lines) in startLines.sorted(by: { $0.key < $1.key }) {
            files.append(File(path: "\(host)/start.sh", contents: startScript(host: host, lines: lines, channels: channels), executable: true))
        }
        return files
    }

    private func selectedChannels() throws(ConfigError) -> [NetworkDescription.Channel] {
        guard let names = options.channels else { return network.channels }
        var selected: [NetworkDescription.Channel] = []
        for name in names {
            guard let channel = network.channels.first(where: { $0.name == name }) else {
                throw ConfigError(.invalidValue, file: "network.yaml", line: nil, field: "channels", reason: "no channel '\(name)' in network.yaml")
            }
            selected.append(channel)
        }
        return selected
    }

    /// Extra settings are top-level keys with plain values, roles are known ones, external etcd
    /// endpoints are host:port and its paths plain: none can break the file's structure.
    private func checkSettings() throws(ConfigError) {
        for role in options.peerRoles where !["endorser", "committer"].contains(role) {
            throw ConfigError(.invalidValue, file: "network.yaml", line: nil, field: "peer-role", reason: "unknown peer role '\(role)' (endorser or committer)")
        }
        if let external = options.externalEtcd {
            let unsafe = Set(",[]{}#&*!|>'\"%@\n\r")
            let paths = external.rootCAs + [external.certificate, external.privateKey].compactMap { $0 }
            guard !external.endpoints.isEmpty, external.endpoints.allSatisfy({ !$0.isEmpty && !$0.contains(where: unsafe.contains) && !$0.contains(" ") }),
                !external.rootCAs.isEmpty, paths.allSatisfy({ !$0.isEmpty && !$0.contains(where: unsafe.contains) }),
                (external.certificate == nil) == (external.privateKey == nil)
            else {
                throw ConfigError(.invalidValue, file: "network.yaml", line: nil, field: "etcd", reason: "the external etcd needs endpoints, root CAs and a certificate with its key (or neither), with plain paths")
            }
        }
        for (role, settings) in [("orderer-setting", options.ordererSettings), ("peer-setting", options.peerSettings)] {
            for (key, value) in settings {
                let keyCharacters = key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
                let valueCharacters = value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-_:".contains($0)) }
                guard !key.isEmpty, keyCharacters, !value.isEmpty, valueCharacters else {
                    throw ConfigError(
                        .invalidValue, file: "network.yaml", line: nil, field: role,
                        reason: "'\(key)=\(value)' is not KEY=VALUE with a letters-and-digits key and a plain value (letters, digits, . - _ :)")
                }
            }
        }
    }

    private func settingsLines(_ settings: [(key: String, value: String)]) -> String {
        settings.map { "\($0.key): \($0.value)\n" }.joined()
    }

    private func cryptoPath(_ organization: String, _ rest: String) -> String { "\(options.crypto)/\(organization)/\(rest)" }

    private func listen(_ host: String, _ port: Int) -> String { "\(options.listenOnAllInterfaces ? "0.0.0.0" : host):\(port)" }

    /// TLS CAs of the organizations whose members call a node.
    private func tlsRoots(_ organizations: [NetworkDescription.Organization]) -> String {
        "[" + organizations.map { cryptoPath($0.name, "tlsca/tlsca-cert.pem") }.joined(separator: ", ") + "]"
    }

    /// What every node's file starts with: identity, listen address, TLS, data directory and
    /// operations endpoint. `member` is the node's folder in its organization's crypto material.
    private func nodeSection(
        _ node: NetworkDescription.Node, member: String, data: String, _ organization: NetworkDescription.Organization,
        callers: [NetworkDescription.Organization]
    ) -> String {
        """
        # \(node.name) of \(organization.name), rendered from network.yaml by `medrex network render`.
        mspID: \(organization.mspID)
        msp: \(cryptoPath(organization.name, "\(member)/msp"))
        listen: \(listen(node.host, node.port))
        tls:
          certificate: \(cryptoPath(organization.name, "\(member)/tls/cert.crt"))
          privateKey: \(cryptoPath(organization.name, "\(member)/tls/key.pem"))
          clientRootCAs: \(tlsRoots(callers))
        data: data/\(data)
        operations: \(listen(node.host, node.operationsPort))

        """
    }

    private func ordererYAML(
        _ node: NetworkDescription.Node, _ organization: NetworkDescription.Organization, _ channels: [NetworkDescription.Channel]
    ) -> String {
        var text = nodeSection(node, member: "orderers/\(node.name)", data: node.name, organization, callers: network.organizations)
        text += """
            channels: [\(channels.map { "\($0.name).block" }.joined(separator: ", "))]

            """
        if channels.contains(where: { $0.consensus == .etcd }), let external = options.externalEtcd {
            let pair = external.certificate.map { ", certificate: \($0)" } ?? ""
            let key = external.privateKey.map { ", privateKey: \($0)" } ?? ""
            text += """
                etcd:
                  endpoints: [\(external.endpoints.joined(separator: ", "))]
                  tls: { rootCAs: [\(external.rootCAs.joined(separator: ", "))]\(pair)\(key) }
                  advertise: \(node.host):\(node.port)

                """
        } else if channels.contains(where: { $0.consensus == .etcd }) {
            text += """
                etcd:
                  endpoints: [\(network.etcdMembers.map { "\($0.host):\($0.clientPort)" }.joined(separator: ", "))]
                  tls: { rootCAs: [\(cryptoPath(organization.name, "tlsca/tlsca-cert.pem"))] }   # client certificate: the orderer's own
                  advertise: \(node.host):\(node.port)

                """
        }
        return text + settingsLines(options.ordererSettings)
    }

    private func peerYAML(
        _ node: NetworkDescription.Node, name: String, _ organization: NetworkDescription.Organization, _ channels: [NetworkDescription.Channel]
    ) -> String {
        var text = nodeSection(
            node, member: "peers/\(node.name)", data: name, organization, callers: network.organizations.filter { !$0.isOrdererOrganization })
        text += """
            roles: [\(options.peerRoles.joined(separator: ", "))]
            channels:\(channels.isEmpty ? " []  # none yet: medrex channel join" : "")

            """
        for channel in channels {
            text += "  - genesis: \(channel.name).block\n"
            if options.chaincodes.isEmpty {
                text += "    chaincodes: []\n"
            } else {
                text += "    chaincodes:\n"
                for chaincode in options.chaincodes { text += "      - { name: \(chaincode.name), version: \"\(chaincode.version)\" }\n" }
            }
        }
        if options.phiService, options.phiOrganizations?.contains(organization.name) ?? true, let first = channels.first {
            text += "phi:\n  channel: \(first.name)\n"
            if let seconds = options.phiPendingTimeoutSeconds { text += "  pendingTimeoutSeconds: \(seconds)\n" }
            if let server = options.phiPostgres[organization.name] {
                text += "  store: postgres\n  postgres: { host: \(server.host), port: \(server.port), user: \(server.user), database: \(server.database), "
                    + "tls: { rootCAs: [\(server.rootCA)] } }\n"
            } else {
                text += "  store: embedded\n"
            }
            if let hsm = options.phiHSM[organization.name] {
                text += "  hsm: { library: \(hsm.library), token: \(hsm.token), keyLabel: \(hsm.keyLabel)"
                    + (hsm.pinFile.map { ", pinFile: \($0.path)" } ?? "") + " }\n"
            }
            if let rewrap = options.phiRewrap {
                text += "  rewrap: { batchSize: \(rewrap.batchSize), keysPerSecond: \(rewrap.keysPerSecond) }\n"
            }
        }
        return text + settingsLines(options.peerSettings)
    }

    /// etcd over mutual TLS with the certificates `medrex crypto generate` made for the member from
    /// the orderer organization's TLS CA; /health on a plaintext metrics port (client port + 3).
    private func etcdCommand(_ member: NetworkDescription.EtcdMember) -> String {
        let ordererOrg = network.organizations.first(where: \.isOrdererOrganization)?.name ?? "OrdererOrg"
        let tls = cryptoPath(ordererOrg, "etcd/\(member.name)/tls")
        let tlsCA = cryptoPath(ordererOrg, "tlsca/tlsca-cert.pem")
        let cluster = network.etcdMembers.map { "\($0.name)=https://\($0.host):\($0.peerPort)" }.joined(separator: ",")
        let bind = options.listenOnAllInterfaces ? "0.0.0.0" : member.host
        return "start \(member.name) etcd --name \(member.name) --data-dir data/\(member.name)"
            + " --listen-client-urls https://\(bind):\(member.clientPort) --advertise-client-urls https://\(member.host):\(member.clientPort)"
            + " --listen-peer-urls https://\(bind):\(member.peerPort) --initial-advertise-peer-urls https://\(member.host):\(member.peerPort)"
            + " --listen-metrics-urls http://\(bind):\(member.clientPort + 3)"
            + " --cert-file \(tls)/cert.crt --key-file \(tls)/key.pem --client-cert-auth --trusted-ca-file \(tlsCA)"
            + " --peer-cert-file \(tls)/cert.crt --peer-key-file \(tls)/key.pem --peer-client-cert-auth --peer-trusted-ca-file \(tlsCA)"
            + " --initial-cluster \(cluster) --initial-cluster-state new --initial-cluster-token \(network.name)"
    }

    private func startScript(host: String, lines: [String], channels: [NetworkDescription.Channel]) -> String {
        """
        #!/usr/bin/env bash
        # Starts the nodes of \(network.name) on host \(host) (rendered by `medrex network render`).
        # Run it from this directory, which must also hold the crypto material (\(options.crypto)) and
        # the genesis blocks: \(channels.map { "\($0.name).block" }.joined(separator: " ")). Logs go to logs/NAME.log,
        # process ids to pids; stop them with: kill $(cut -d' ' -f2 pids)
        set -euo pipefail
        cd "$(dirname "$0")"
        medrex=${MEDREX_BIN:-medrex}
        mkdir -p logs data
        for block in \(channels.map { "\($0.name).block" }.joined(separator: " ")); do
            [ -f "$block" ] || { echo "missing $block (medrex channel create ... --output $block)" >&2; exit 1; }
        done
        start() { # NAME COMMAND...
            local name="$1"
            shift
            "$@" >"logs/$name.log" 2>&1 &
            echo "$name $!" >>pids
        }
        wait_healthy() { # URL NAME
            for _ in $(seq 1 150); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done
            echo "$2 did not become healthy; see logs/$2.log" >&2
            exit 1
        }
        \(lines.joined(separator: "\n"))

        """
    }
}
