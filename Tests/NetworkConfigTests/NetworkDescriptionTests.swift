import Foundation
import Testing

@testable import NetworkConfig

@Suite struct NetworkDescriptionTests {
    static let sampleFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("network-config/network.yaml").path

    @Test func loadsTheSampleNetwork() throws {
        let network = try NetworkDescription.load(file: Self.sampleFile)
        #expect(network.name == "medrex-sample")
        #expect(network.organizations.map(\.name) == ["OrdererOrg", "HospitalA", "HospitalB"])
        #expect(network.organization(named: "OrdererOrg")?.orderers.count == 3)
        #expect(network.organization(named: "HospitalA")?.peers.count == 2)
        #expect(network.organization(named: "HospitalB")?.peers.count == 2)
        #expect(network.etcdMembers.count == 3)
        let users = network.organizations.flatMap(\.users)
        let roles = Set(users.compactMap { $0.attributes["role"] })
        #expect(roles == HealthcareAttributeRules.roles)
        let trainee = try #require(users.first { $0.attributes["is_trainee"] == "true" })
        #expect(trainee.attributes["role"] == "md_student")
        #expect(trainee.attributes["specialty"] == "cardiology")
        let supervisor = try #require(users.first { $0.attributes["is_supervisor"] == "true" })
        #expect(supervisor.attributes["specialty"] == "cardiology")
        #expect(users.contains { $0.attributes["role"] == "operator" && $0.attributes["hospital"] == "HospitalA" })
        #expect(users.contains { $0.attributes["role"] == "nurse" && $0.attributes["ward_assignment"] != nil })
        let channel = try #require(network.channels.first)
        #expect(channel.consensus == .etcd)
        #expect(channel.batch.maxMessageCount == 500)
        #expect(channel.batch.timeoutMilliseconds == 250)
    }

    @Test(arguments: [
        // (yaml, line, field, code, reason fragment)
        BadConfig("organizations: []\n", 1, "name", .missingField, "required field is missing"),
        BadConfig("name: n\norganizations:\n  - name: A\n    mspID: AMSP\n    domain: a.test\n    peers:\n      - { name: p0, port: seven, operationsPort: 9000 }\n",
                  7, "organizations[0].peers[0].port", .wrongType, "expected an integer"),
        BadConfig("name: n\norganizations:\n  - name: A\n    mspID: AMSP\n    domian: a.test\n", 5, "organizations[0].domian", .unknownField, "unknown field"),
        BadConfig("name: n\norganizations:\n  - name: A\n    mspID: AMSP\n    domain: a.test\n    peers:\n      - { name: p0, port: 7051, operationsPort: 9000 }\n    users:\n      - name: u\n        attributes: { role: surgeon }\n",
                  10, "organizations[0].users[0].attributes.role", .invalidValue, "unknown role 'surgeon'"),
        BadConfig("name: n\norganizations:\n  - name: A\n    mspID: AMSP\n    domain: a.test\n    peers:\n      - { name: p0, port: 7051, operationsPort: 9000 }\n    users:\n      - name: u\n        attributes: { is_trainee: maybe }\n",
                  10, "organizations[0].users[0].attributes.is_trainee", .invalidValue, "must be true or false"),
        BadConfig("name: n\norganizations:\n  - name: A\n    mspID: AMSP\n    domain: a.test\n    peers:\n      - { name: p0, port: 7051, operationsPort: 9000 }\n      - { name: p1, port: 7051, operationsPort: 9001 }\n",
                  nil, "A/p1 port", .duplicate, "port 7051 is already used by A/p0 port"),
        BadConfig("name: n\norganizations:\n  - name: A\n    mspID: AMSP\n    domain: a.test\n    peers:\n      - { name: p0, port: 7051, operationsPort: 9000 }\nchannels:\n  - name: ch\n    organizations: [A]\n    endorsementPolicy: \"AND('AMSP.peer', 'BMSP.peer')\"\n",
                  11, "channels[0].endorsementPolicy", .invalidValue, "'BMSP', which is not a member"),
        BadConfig("name: n\norganizations:\n  - name: A\n    mspID: AMSP\n    domain: a.test\n    peers:\n      - { name: p0, port: 7051, operationsPort: 9000 }\nchannels:\n  - name: ch\n    organizations: [A]\n    endorsementPolicy: \"AND('AMSP.peer'\"\n",
                  11, "channels[0].endorsementPolicy", .invalidValue, "position"),
        BadConfig("name: n\norganizations:\n  - name: A\n    mspID: AMSP\n  domain: [\n", 5, "", .syntax, "not valid YAML"),
        BadConfig("name: n\norganizations:\n  - name: A\n    mspID: AMSP\n    domain: a.test\n", 3, "organizations[0]", .missingField, "neither orderers nor peers"),
    ])
    func badConfigsNameFileLineAndField(bad: BadConfig) {
        do {
            _ = try NetworkDescription.parse(yaml: bad.yaml, file: "bad.yaml")
            Issue.record("accepted a bad config: \(bad.yaml)")
        } catch {
            #expect(error.code == bad.code)
            #expect(error.file == "bad.yaml")
            #expect(error.line == bad.line, "\(error)")
            #expect(error.field == bad.field, "\(error)")
            #expect(error.reason.contains(bad.reasonFragment), "\(error)")
            #expect(error.description.hasPrefix(bad.line.map { "bad.yaml:\($0)" } ?? "bad.yaml"))
        }
    }

    @Test func unreadableFileIsAClearError() {
        do {
            _ = try NetworkDescription.load(file: "/nonexistent/network.yaml")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.code == .unreadable)
            #expect(error.description.hasPrefix("/nonexistent/network.yaml: cannot read"))
        }
    }
}

struct BadConfig: Sendable, CustomTestStringConvertible {
    let yaml: String
    let line: Int?
    let field: String
    let code: ConfigError.Code
    let reasonFragment: String

    init(_ yaml: String, _ line: Int?, _ field: String, _ code: ConfigError.Code, _ reasonFragment: String) {
        self.yaml = yaml
        self.line = line
        self.field = field
        self.code = code
        self.reasonFragment = reasonFragment
    }

    var testDescription: String { "\(code.rawValue) at \(field)" }
}
