import Crypto
import Endorser
import Foundation
import GRPCCore
import Identity
import LedgerCore
import LedgerWire
import NetworkConfig
import Testing
import TestSupport
import X509
@testable import NodeClients

/// Channel configuration updates with real processes: a solo orderer and two hospitals' peers;
/// updates made, signed and submitted with the `medrex channel` commands.
@Suite(.serialized) struct ConfigUpdateEndToEndTests {
    /// The `medrex channel` options naming the orderer, the caller and the channel.
    func callerOptions(_ network: LocalTestNetwork, org: String, user: String = "admin") -> [String] {
        ["--crypto", network.crypto.path, "--org", org, "--msp-id", "\(org)MSP", "--user", user, "--orderer", "127.0.0.1:\(network.orderer.port)",
         "--orderer-org", "OrdererOrg", "--channel", network.channel]
    }

    @Test func aRevokedClinicianIsRefusedFromTheConfigBlockOnWhileEarlierBlocksStand() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        let channel = network.channel
        // Before: dr-carter writes; a second transaction is endorsed now and submitted after the revocation.
        let (earlier, pending) = try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
            let txID = try await gateway.submit(channel: channel, chaincode: "kv", arguments: ["put", "before", "1"])
            let proposal = try ProposalFactory.make(
                channel: channel, chaincode: "kv", arguments: ["put", "after", "1"], signer: try network.signer(org: "HospitalA", user: "dr-carter"), timestamp: Date())
            let envelope = try await gateway.endorse(channel: channel, proposal: proposal)
            return (txID, (try GatewayClient.transactionID(of: proposal), envelope))
        }
        let earlierStatus = try await network.withGateway(peer: 0, user: "dr-shah") { try await $0.commitStatus(channel: channel, transactionID: earlier) }
        #expect(earlierStatus.result == .valid)

        // HospitalA's CA revokes dr-carter; HospitalA's admin puts the CRL into the channel.
        let layout = CryptoMaterialLayout(root: network.crypto, organization: "HospitalA")
        let ca = try CertificateAuthority(
            certificate: try Certificate(pemEncoded: String(contentsOf: layout.caCertificate, encoding: .utf8)),
            privateKey: try P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: layout.caPrivateKey, encoding: .utf8)))
        let doctor = try network.signer(org: "HospitalA", user: "dr-carter")
        let crl = try ca.revocationList(revoking: [doctor.certificate.serialNumber], thisUpdate: Date(), nextUpdate: Date().addingTimeInterval(30 * 86_400))
        let crlFile = network.work.appendingPathComponent("hospital-a.crl.pem")
        try crl.pemString.write(to: crlFile, atomically: true, encoding: .utf8)
        let heightBefore = try await network.height(peer: 0)
        // HospitalB's admin may not change HospitalA's MSP: the orderer refuses, nothing changes.
        let byOther = try await ChildProcess.run(
            ChildProcess.medrex, ["channel", "update"] + callerOptions(network, org: "HospitalB") + ["--crl", "HospitalAMSP=\(crlFile.path)", "--submit"])
        #expect(byOther.status != 0 && byOther.output.contains("mod_policy"), "\(byOther.output)")
        #expect(try await network.height(peer: 0) == heightBefore)
        let update = try await ChildProcess.run(
            ChildProcess.medrex, ["channel", "update"] + callerOptions(network, org: "HospitalA") + ["--crl", "HospitalAMSP=\(crlFile.path)", "--submit"])
        #expect(update.status == 0, "\(update.output)")
        #expect(update.output.contains("[Values] /Channel/Application/HospitalAMSP/MSP: version 0 -> 1"), "\(update.output)")
        for peer in 0..<2 { try await network.waitForHeight(heightBefore + 1, peer: peer) }

        // From the config block on: dr-carter's proposals are refused at endorsement...
        await #expect(throws: (any Error).self) {
            try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
                _ = try await gateway.submit(channel: channel, chaincode: "kv", arguments: ["put", "refused", "1"])
            }
        }
        // ...and the transaction endorsed before is refused by the orderer, which applied the
        // configuration too (a block that carried it would have it invalid: BlockValidatorTests).
        try await network.withGateway(peer: 0, user: "dr-shah") { gateway in
            let refusal = await #expect(throws: RPCError.self) { try await gateway.submit(channel: channel, envelope: pending.1) }
            #expect(refusal?.message.contains("revoked") == true, "\(String(describing: refusal))")
            // Earlier blocks stand as they were; other clinicians go on.
            #expect(try await gateway.commitStatus(channel: channel, transactionID: earlier).result == .valid)
            let txID = try await gateway.submit(channel: channel, chaincode: "kv", arguments: ["put", "still", "1"])
            #expect(try await gateway.commitStatus(channel: channel, transactionID: txID).result == .valid)
        }
        let height = try await network.height(peer: 0)
        try await network.waitForHeight(height, peer: 1)
        let statusB = try await network.withGateway(peer: 1, user: "lab-tech-lee") { try await $0.commitStatus(channel: channel, transactionID: earlier) }
        #expect(statusB.result == .valid)

        // The configuration as `medrex channel config` prints it names the revoked serial number.
        let printed = try await ChildProcess.run(ChildProcess.medrex, ["channel", "config"] + callerOptions(network, org: "HospitalB") + ["--format", "json"])
        #expect(printed.status == 0, "\(printed.output)")
        #expect(printed.output.contains("\"sequence\" : 1") && printed.output.contains("\(doctor.certificate.serialNumber)"), "\(printed.output)")

        // Restarted, the peers start from the config block: the revocation holds.
        network.peers[0].process.stop()
        try network.peers[0].process.start()
        try await network.waitUntilHealthy(operationsPort: network.peers[0].operationsPort)
        await #expect(throws: (any Error).self) {
            try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
                _ = try await gateway.evaluate(channel: channel, chaincode: "kv", arguments: ["get", "before"])
            }
        }
    }
}
