// Fuzz target `configupdate`: the first byte picks what the rest is, against the sample network's
// healthchannel configuration (crypto material generated once per process):
//   0 → a common.ConfigUpdateEnvelope → ConfigUpdateProcessor.apply (read set, delta, mod_policy,
//       signatures, resulting configuration)
//   1 → a common.ConfigEnvelope → ConfigUpdateProcessor.verify (what peers check of a CONFIG
//       transaction)
//   2 → a common.Config → ChannelConfig(channelID:config:), ConfigTree.flatten / rebuild
// (any other first byte: its value modulo 3). Oracle: a configuration that flattens rebuilds to
// itself, and an accepted update's configuration has the next sequence.
import Foundation
import Identity
import LedgerWire
import NetworkConfig
import SwiftProtobuf

private struct Fixture {
    let config: ChannelConfig
    let processor: ConfigUpdateProcessor
    let ordererAdmin: SigningIdentity
    let adminA: SigningIdentity
}

private let fixture: Fixture? = {
    let text = """
        name: fuzz
        organizations:
          - name: OrdererOrg
            mspID: OrdererMSP
            domain: orderer.fuzz
            orderers: [{ name: orderer0, port: 7050, operationsPort: 9440 }]
            admins: [{ name: admin }]
          - name: HospitalA
            mspID: HospitalAMSP
            domain: hospital-a.fuzz
            peers: [{ name: peer0, port: 7051, operationsPort: 9443 }]
            admins: [{ name: admin }]
          - name: HospitalB
            mspID: HospitalBMSP
            domain: hospital-b.fuzz
            peers: [{ name: peer0, port: 8051, operationsPort: 9445 }]
            admins: [{ name: admin }]
        channels:
          - name: healthchannel
            organizations: [HospitalA, HospitalB]
            endorsementPolicy: "AND('HospitalAMSP.peer', 'HospitalBMSP.peer')"
            consensus: solo
        """
    let crypto = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-fuzz-configupdate-\(getpid())")
    guard let network = try? NetworkDescription.parse(yaml: text, file: "network.yaml"),
        (try? CryptoMaterialGenerator(network: network, notValidBefore: Date().addingTimeInterval(-60)).write(to: crypto, force: true)) != nil,
        let genesis = try? ChannelGenesis.makeBlock(network: network, channel: "healthchannel", crypto: crypto, timestamp: Date()),
        let config = try? ChannelConfig(block: genesis), let processor = try? ConfigUpdateProcessor(current: config),
        let ordererAdmin = try? CryptoMaterialLoader.loadSigningIdentity(
            CryptoMaterialLayout(root: crypto, organization: "OrdererOrg").member(kind: .user, name: "admin").msp, mspID: "OrdererMSP"),
        let adminA = try? CryptoMaterialLoader.loadSigningIdentity(
            CryptoMaterialLayout(root: crypto, organization: "HospitalA").member(kind: .user, name: "admin").msp, mspID: "HospitalAMSP")
    else { return nil }
    return Fixture(config: config, processor: processor, ordererAdmin: ordererAdmin, adminA: adminA)
}()

private func update(_ edits: [ChannelConfigEdit], signers: [SigningIdentity]) throws -> Common_ConfigUpdateEnvelope {
    guard let fixture else { return Common_ConfigUpdateEnvelope() }
    var edited = fixture.config.config.channelGroup
    for edit in edits { try edit.apply(to: &edited) }
    var envelope = Common_ConfigUpdateEnvelope()
    envelope.configUpdate = try ConfigUpdateBuilding.computeUpdate(
        channelID: "healthchannel", original: fixture.config.config.channelGroup, updated: edited
    ).serializedData()
    envelope.signatures = try signers.map { try ConfigUpdateBuilding.sign(envelope.configUpdate, as: $0) }
    return envelope
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    // Without its channel the target would check nothing: stop at once instead.
    guard fixture != nil else { fatalError("configupdate: the sample channel's configuration could not be made") }
    writeSeedsIfAsked {
        guard let fixture else { return [] }
        let batch = try update([.setBatch(maxMessageCount: 10, absoluteMaxBytes: nil, preferredMaxBytes: nil, timeoutMilliseconds: 100)], signers: [fixture.ordererAdmin])
        let ordering = try update([.setOrdering(reorderBlocks: true, idleTimeoutMilliseconds: 5)], signers: [fixture.ordererAdmin])
        let removal = try update([.removeOrganization(mspID: "HospitalBMSP")], signers: [fixture.adminA])
        var configEnvelope = Common_ConfigEnvelope()
        configEnvelope.config = try fixture.processor.apply(batch, at: Date()).config
        configEnvelope.lastUpdate = try ConfigUpdateBuilding.transaction(batch, channelID: "healthchannel", submitter: fixture.ordererAdmin, time: Date())
        return [
            ("update-batch", Data([0]) + (try batch.serializedData())), ("update-ordering", Data([0]) + (try ordering.serializedData())),
            ("update-removal", Data([0]) + (try removal.serializedData())), ("config-envelope", Data([1]) + (try configEnvelope.serializedData())),
            ("config", Data([2]) + (try fixture.config.config.serializedData())),
        ]
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigUpdate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzData(data, size)
    guard let fixture, let selector = bytes.first else { return 0 }
    let rest = bytes.dropFirst()
    switch selector % 3 {
    case 0:
        guard let envelope = try? Common_ConfigUpdateEnvelope(serializedBytes: rest) else { return 0 }
        if let next = try? fixture.processor.apply(envelope, at: Date()) {
            fuzzOracle(next.config.sequence == fixture.config.config.sequence + 1, "an accepted update did not move the sequence on")
        }
    case 1:
        guard let envelope = try? Common_ConfigEnvelope(serializedBytes: rest) else { return 0 }
        _ = try? fixture.processor.verify(envelope, at: Date())
    default:
        guard let config = try? Common_Config(serializedBytes: rest) else { return 0 }
        _ = try? ChannelConfig(channelID: "healthchannel", config: config)
        if let elements = try? ConfigTree.flatten(config.channelGroup) {
            fuzzOracle((try? ConfigTree.rebuild(elements)) == config.channelGroup, "a flattened configuration did not rebuild to itself")
        }
    }
    return 0
}
