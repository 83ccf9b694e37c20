// Fuzz target `configyaml`: the first byte picks the parser, the rest is YAML text:
//   0 → PeerConfiguration.parse(yaml:file:baseDirectory:)   (peer.yaml)
//   1 → OrdererConfiguration.load(file:)                    (orderer.yaml; its only entry point, so
//                                                             the text goes through a scratch file)
//   2 → NetworkDescription.parse(yaml:file:)                (network-config/network.yaml)
// (any other first byte: its value modulo 3).
import Foundation
import NetworkConfig

#if canImport(Glibc)
import Glibc
#endif

private let scratchFile: String = {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-fuzz-configyaml-\(getpid())")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent("orderer.yaml").path
}()

private let peerYAML = """
    mspID: HospitalAMSP
    msp: crypto/HospitalA/peers/peer0/msp
    listen: 127.0.0.1:7051
    tls:
      certificate: crypto/HospitalA/peers/peer0/tls/cert.crt
      privateKey: crypto/HospitalA/peers/peer0/tls/key.pem
      clientRootCAs: [crypto/HospitalA/tlsca/tlsca-cert.pem, crypto/HospitalB/tlsca/tlsca-cert.pem]
    data: peer0-hospital-a
    roles: [endorser, committer]
    operations: 127.0.0.1:9443
    earlyAbort: true
    channels:
      - genesis: devchannel.block
        chaincodes:
          - { name: asset-transfer, version: "1.0" }
          - { name: kv, version: "1.0" }
          - { name: phi, version: "1.0" }
    phi:
      channel: devchannel
      store: embedded

    """

private let ordererYAML = """
    mspID: OrdererMSP
    msp: crypto/OrdererOrg/orderers/orderer0/msp
    listen: 127.0.0.1:7050
    tls:
      certificate: crypto/OrdererOrg/orderers/orderer0/tls/cert.crt
      privateKey: crypto/OrdererOrg/orderers/orderer0/tls/key.pem
      clientRootCAs: [crypto/HospitalA/tlsca/tlsca-cert.pem, crypto/HospitalB/tlsca/tlsca-cert.pem]
    data: orderer0
    operations: 127.0.0.1:9440
    channels: [devchannel.block]
    etcd:
      endpoints: [127.0.0.1:2379, 127.0.0.1:2380]
      advertise: 127.0.0.1:7050
      leaseSeconds: 3

    """

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    writeSeedsIfAsked {
        var seeds: [(name: String, bytes: Data)] = [("peer", Data([0]) + Data(peerYAML.utf8)), ("orderer", Data([1]) + Data(ordererYAML.utf8))]
        if let vectors = fabricVectorsDirectory() {
            let network = vectors.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("network-config/network.yaml")
            if let text = try? Data(contentsOf: network) { seeds.append(("network", Data([2]) + text)) }
        }
        return seeds
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigYAML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzData(data, size)
    guard let mode = bytes.first else { return 0 }
    let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
    switch mode % 3 {
    case 0:
        do {
            let configuration = try PeerConfiguration.parse(yaml: text, file: "peer.yaml", baseDirectory: URL(fileURLWithPath: "/fuzz"))
            _ = configuration.chaincodeDirectory
            _ = configuration.ledgerDirectory(channel: "devchannel")
            fuzzTrace("peer configuration parsed")
        } catch {
            fuzzTrace("peer: \(error)")
        }
    case 1:
        guard (try? Data(bytes.dropFirst()).write(to: URL(fileURLWithPath: scratchFile))) != nil else { return 0 }
        do {
            let configuration = try OrdererConfiguration.load(file: scratchFile)
            _ = configuration.ledgerDirectory(channel: "devchannel")
            fuzzTrace("orderer configuration loaded")
        } catch {
            fuzzTrace("orderer: \(error)")
        }
    default:
        do {
            let description = try NetworkDescription.parse(yaml: text, file: "network.yaml")
            for organization in description.organizations { _ = description.organization(named: organization.name) }
            fuzzTrace("network description parsed")
        } catch {
            fuzzTrace("network: \(error)")
        }
    }
    return 0
}
