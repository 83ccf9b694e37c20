import Foundation
import Identity

extension NetworkDescription {
    /// Reads and checks a network description. Every problem is a `ConfigError` naming the file,
    /// the line and the field.
    package static func load(file path: String) throws(ConfigError) -> NetworkDescription {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(.unreadable, file: path, line: nil, field: "", reason: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(yaml: text, file: path)
    }

    package static func parse(yaml text: String, file: String) throws(ConfigError) -> NetworkDescription {
        var root = try YAMLNodeReader.root(yaml: text, file: file)
        try root.allowOnly(["name", "certificateValidityDays", "organizations", "etcd", "channels"])
        let name = try root.field("name").nonEmptyString()
        let validityDays = try root.optionalField("certificateValidityDays")?.integer(in: 1...36_500) ?? 3650
        let organizationsReader = try root.field("organizations")
        var organizations: [Organization] = []
        for reader in try organizationsReader.list() {
            organizations.append(try parseOrganization(reader))
        }
        let etcdMembers = try root.optionalField("etcd").map { reader throws(ConfigError) in
            try reader.list().map { item throws(ConfigError) in try parseEtcdMember(item) }
        } ?? []
        let channelReaders = try root.optionalField("channels")?.list() ?? []
        try root.finish()
        try checkUnique(organizations.map(\.name), readers: try organizationsReader.list(), what: "organization name")
        try checkUnique(organizations.map(\.mspID), readers: try organizationsReader.list(), what: "MSP id")
        var description = NetworkDescription(
            name: name, certificateValidityDays: validityDays, organizations: organizations,
            etcdMembers: etcdMembers, channels: [])
        for reader in channelReaders {
            description.channels.append(try parseChannel(reader, organizations: organizations))
        }
        try description.checkPorts(root: root)
        return description
    }

    // MARK: - Sections

    private static func parseOrganization(_ source: YAMLNodeReader) throws(ConfigError) -> Organization {
        var reader = source
        try reader.allowOnly(["name", "mspID", "domain", "orderers", "peers", "admins", "users"])
        let name = try identifier(try reader.field("name"))
        let mspID = try identifier(try reader.field("mspID"))
        let domainReader = try reader.field("domain")
        let domain = try domainReader.nonEmptyString()
        guard domain.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }), !domain.hasPrefix(".") else {
            throw domainReader.error(.invalidValue, "'\(domain)' is not a DNS domain")
        }
        let orderers = try nodes(try reader.optionalField("orderers"))
        let peers = try nodes(try reader.optionalField("peers"))
        let admins = try users(try reader.optionalField("admins"), allowAttributes: false)
        let users = try users(try reader.optionalField("users"), allowAttributes: true)
        try reader.finish()
        guard !(orderers.isEmpty && peers.isEmpty) else {
            throw source.error(.missingField, "organization '\(name)' has neither orderers nor peers")
        }
        let names = orderers.map(\.name) + peers.map(\.name) + admins.map(\.name) + users.map(\.name)
        if let repeated = firstDuplicate(names) {
            throw source.error(.duplicate, "name '\(repeated)' is used twice in organization '\(name)'")
        }
        return Organization(
            name: name, mspID: mspID, domain: domain, orderers: orderers, peers: peers, admins: admins, users: users)
    }

    private static func nodes(_ list: YAMLNodeReader?) throws(ConfigError) -> [Node] {
        guard let list else { return [] }
        var result: [Node] = []
        for item in try list.list() {
            var reader = item
            try reader.allowOnly(["name", "host", "port", "operationsPort", "hosts"])
            let node = Node(
                name: try identifier(try reader.field("name")),
                host: try reader.optionalField("host")?.nonEmptyString() ?? "127.0.0.1",
                port: try reader.field("port").integer(in: 1024...65535),
                operationsPort: try reader.field("operationsPort").integer(in: 1024...65535),
                extraHosts: try reader.optionalField("hosts")?.list().map { host throws(ConfigError) in try host.nonEmptyString() } ?? []
            )
            try reader.finish()
            result.append(node)
        }
        return result
    }

    private static func users(_ list: YAMLNodeReader?, allowAttributes: Bool) throws(ConfigError) -> [User] {
        guard let list else { return [] }
        var result: [User] = []
        for item in try list.list() {
            var reader = item
            try reader.allowOnly(["name", "attributes"])
            let name = try identifier(try reader.field("name"))
            var attributes: [String: String] = [:]
            if let attributeReader = try reader.optionalField("attributes") {
                guard allowAttributes else { throw attributeReader.error(.unknownField, "admins carry no healthcare attributes") }
                for (key, value, valueReader) in try attributeReader.stringMap() {
                    if let problem = HealthcareAttributeRules.problem(name: key, value: value) {
                        throw valueReader.error(.invalidValue, problem)
                    }
                    attributes[key] = value
                }
            }
            try reader.finish()
            result.append(User(name: name, attributes: attributes))
        }
        return result
    }

    private static func parseEtcdMember(_ item: YAMLNodeReader) throws(ConfigError) -> EtcdMember {
        var reader = item
        try reader.allowOnly(["name", "host", "clientPort", "peerPort"])
        let member = EtcdMember(
            name: try identifier(try reader.field("name")),
            host: try reader.optionalField("host")?.nonEmptyString() ?? "127.0.0.1",
            clientPort: try reader.field("clientPort").integer(in: 1024...65535),
            peerPort: try reader.field("peerPort").integer(in: 1024...65535))
        try reader.finish()
        return member
    }

    private static func parseChannel(_ item: YAMLNodeReader, organizations: [Organization]) throws(ConfigError) -> Channel {
        var reader = item
        try reader.allowOnly(["name", "organizations", "endorsementPolicy", "consensus", "batch", "reorderBlocks"])
        let nameReader = try reader.field("name")
        let name = try nameReader.nonEmptyString()
        guard name.allSatisfy({ ($0.isLowercase && $0.isASCII) || $0.isNumber || $0 == "-" || $0 == "." }) else {
            throw nameReader.error(.invalidValue, "channel names use lower-case letters, digits, '-' and '.' (as in Fabric)")
        }
        let membersReader = try reader.field("organizations")
        var members: [String] = []
        for memberReader in try membersReader.list() {
            let member = try memberReader.nonEmptyString()
            guard let organization = organizations.first(where: { $0.name == member }) else {
                throw memberReader.error(.invalidValue, "no organization named '\(member)'")
            }
            guard !organization.peers.isEmpty else {
                throw memberReader.error(.invalidValue, "organization '\(member)' has no peers to join a channel")
            }
            members.append(member)
        }
        let policyReader = try reader.field("endorsementPolicy")
        let policyText = try policyReader.nonEmptyString()
        try checkPolicy(policyText, reader: policyReader, members: members, organizations: organizations)
        let consensusReader = try reader.optionalField("consensus")
        let consensusText = try consensusReader?.string() ?? "solo"
        guard let consensus = Consensus(rawValue: consensusText) else {
            throw consensusReader!.error(.invalidValue, "unknown consensus '\(consensusText)' (expected solo or etcd)")
        }
        var idleTimeout: Int?
        let batch = try parseBatch(try reader.optionalField("batch"), idleTimeout: &idleTimeout)
        let ordering = OrderingSwitches(reorderBlocks: try reader.optionalField("reorderBlocks")?.bool() ?? false, idleTimeoutMilliseconds: idleTimeout)
        try reader.finish()
        return Channel(name: name, organizations: members, endorsementPolicy: policyText, consensus: consensus, batch: batch, ordering: ordering)
    }

    private static func checkPolicy(
        _ text: String, reader: YAMLNodeReader, members: [String], organizations: [Organization]
    ) throws(ConfigError) {
        let policy: EndorsementPolicy
        do {
            policy = try EndorsementPolicy.parse(text)
        } catch {
            throw reader.error(.invalidValue, "\(error)")
        }
        let memberMSPs = Set(organizations.filter { members.contains($0.name) }.map(\.mspID))
        for mspID in policy.mspIDs where !memberMSPs.contains(mspID) {
            throw reader.error(.invalidValue, "policy names MSP '\(mspID)', which is not a member of the channel")
        }
    }

    static func parseBatch(_ source: YAMLNodeReader?) throws(ConfigError) -> BatchSettings {
        var idleTimeout: Int?
        return try parseBatch(source, idleTimeout: &idleTimeout)
    }

    /// The batch settings, and in `idleTimeout` the `idleTimeout` field when present.
    static func parseBatch(_ source: YAMLNodeReader?, idleTimeout: inout Int?) throws(ConfigError) -> BatchSettings {
        var settings = BatchSettings(
            maxMessageCount: 500, absoluteMaxBytes: 10 * 1024 * 1024, preferredMaxBytes: 2 * 1024 * 1024, timeoutMilliseconds: 250)
        guard var reader = source else { return settings }
        try reader.allowOnly(["maxMessageCount", "absoluteMaxBytes", "preferredMaxBytes", "timeout", "idleTimeout"])
        if let count = try reader.optionalField("maxMessageCount") { settings.maxMessageCount = try count.integer(in: 1...10_000) }
        if let bytes = try reader.optionalField("absoluteMaxBytes") { settings.absoluteMaxBytes = try bytes.integer(in: 1024...(100 * 1024 * 1024)) }
        if let bytes = try reader.optionalField("preferredMaxBytes") { settings.preferredMaxBytes = try bytes.integer(in: 1024...(100 * 1024 * 1024)) }
        if let timeout = try reader.optionalField("timeout") { settings.timeoutMilliseconds = try milliseconds(timeout) }
        if let idle = try reader.optionalField("idleTimeout") { idleTimeout = try milliseconds(idle) }
        try reader.finish()
        guard settings.preferredMaxBytes <= settings.absoluteMaxBytes else {
            throw source!.error(.invalidValue, "preferredMaxBytes exceeds absoluteMaxBytes")
        }
        return settings
    }

    // MARK: - Values

    /// Names of organizations, nodes and users become file names and certificate names.
    private static func identifier(_ reader: YAMLNodeReader) throws(ConfigError) -> String {
        let text = try reader.nonEmptyString()
        guard text.count <= 64, text.allSatisfy({ ($0.isLetter || $0.isNumber) && $0.isASCII || $0 == "-" || $0 == "_" }) else {
            throw reader.error(.invalidValue, "'\(text)' must be 1-64 ASCII letters, digits, '-' or '_'")
        }
        return text
    }

    /// `250ms`, `2s` or a bare number of milliseconds.
    static func milliseconds(_ reader: YAMLNodeReader) throws(ConfigError) -> Int {
        let text = try reader.string().trimmingCharacters(in: .whitespaces)
        let value: Int?
        if text.hasSuffix("ms") {
            value = Int(text.dropLast(2))
        } else if text.hasSuffix("s") {
            value = Int(text.dropLast()).flatMap { seconds in
                let (milliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
                return overflow ? nil : milliseconds
            }
        } else {
            value = Int(text)
        }
        guard let value, (1...60_000).contains(value) else {
            throw reader.error(.invalidValue, "expected a duration like 250ms or 2s, between 1ms and 60s")
        }
        return value
    }

    private static func checkUnique(_ values: [String], readers: [YAMLNodeReader], what: String) throws(ConfigError) {
        var seen: Set<String> = []
        for (value, reader) in zip(values, readers) where !seen.insert(value).inserted {
            throw reader.error(.duplicate, "\(what) '\(value)' is used twice")
        }
    }

    private static func firstDuplicate(_ values: [String]) -> String? {
        var seen: Set<String> = []
        return values.first { !seen.insert($0).inserted }
    }

    /// Every listening port of the network must differ: all nodes run on one machine by default.
    private func checkPorts(root: YAMLNodeReader) throws(ConfigError) {
        var owners: [Int: String] = [:]
        var claims: [(Int, String)] = []
        for organization in organizations {
            for node in organization.orderers + organization.peers {
                claims.append((node.port, "\(organization.name)/\(node.name) port"))
                claims.append((node.operationsPort, "\(organization.name)/\(node.name) operationsPort"))
            }
        }
        for member in etcdMembers {
            claims.append((member.clientPort, "etcd \(member.name) clientPort"))
            claims.append((member.peerPort, "etcd \(member.name) peerPort"))
        }
        for (port, owner) in claims {
            if let previous = owners[port] {
                throw ConfigError(.duplicate, file: root.file, line: nil, field: owner, reason: "port \(port) is already used by \(previous)")
            }
            owners[port] = owner
        }
    }
}
