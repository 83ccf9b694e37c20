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
        ["--crypto", network.crypto.path, "--org", org, "--msp-id", org == "OrdererOrg" ? "OrdererMSP" : "\(org)MSP", "--user", user, "--orderer", "127.0.0.1:\(network.orderer.port)",
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

        // Restarted, the orderer and the peers start from the config block: the revocation holds.
        network.ordererProcess.stop()
        try network.ordererProcess.start()
        network.peers[0].process.stop()
        try network.peers[0].process.start()
        try await network.waitUntilHealthy(operationsPort: network.peers[0].operationsPort)
        await #expect(throws: (any Error).self) {
            try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
                _ = try await gateway.evaluate(channel: channel, chaincode: "kv", arguments: ["get", "before"])
            }
        }
        let refusedByOrderer = try await network.orderer.broadcast([pending.1])
        #expect(refusedByOrderer.first?.status == .forbidden, "\(refusedByOrderer)")
        try await network.withGateway(peer: 0, user: "dr-shah") { gateway in
            let txID = try await gateway.submit(channel: channel, chaincode: "kv", arguments: ["put", "after-restart", "1"])
            let status = try await gateway.commitStatus(channel: channel, transactionID: txID)
            #expect(status.result == .valid)
            // Blocks after the restart name the config block as the last config.
            let (blocks, _) = try await network.orderer.deliver(
                channel: channel, start: status.blockNumber, stop: status.blockNumber, signer: try network.signer(org: "HospitalA", user: "admin"))
            #expect(blocks.first?.lastConfigIndex == heightBefore)
        }
    }

    /// A configuration update racing a clinician's transactions: those ordered before the config
    /// block were validated under the old configuration (VALID), none after it is.
    @Test func transactionsRacingTheirCreatorsRevocationAreValidOnlyBeforeTheConfigBlock() async throws {
        let network = try await LocalTestNetwork.start(maxMessageCount: 3)
        defer { network.stopAll() }
        let channel = network.channel
        let layout = CryptoMaterialLayout(root: network.crypto, organization: "HospitalA")
        let ca = try CertificateAuthority(
            certificate: try Certificate(pemEncoded: String(contentsOf: layout.caCertificate, encoding: .utf8)),
            privateKey: try P256.Signing.PrivateKey(pemRepresentation: String(contentsOf: layout.caPrivateKey, encoding: .utf8)))
        let doctor = try network.signer(org: "HospitalA", user: "dr-carter")
        let crl = try ca.revocationList(revoking: [doctor.certificate.serialNumber], thisUpdate: Date(), nextUpdate: Date().addingTimeInterval(86_400))
        let crlFile = network.work.appendingPathComponent("crl.pem")
        try crl.pemString.write(to: crlFile, atomically: true, encoding: .utf8)
        let configBlock = try await network.height(peer: 0)
        let submitted = try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
            try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask {
                    let update = try await ChildProcess.run(
                        ChildProcess.medrex, ["channel", "update"] + callerOptions(network, org: "HospitalA") + ["--crl", "HospitalAMSP=\(crlFile.path)", "--submit"])
                    #expect(update.status == 0, "\(update.output)")
                    return nil
                }
                for index in 0..<24 {
                    group.addTask {
                        // The first few go out before the update can be made; the rest race it.
                        try await Task.sleep(for: .milliseconds(index < 3 ? 0 : index * 15))
                        return try? await gateway.submit(channel: channel, chaincode: "kv", arguments: ["put", "race-\(index)", "1"])
                    }
                }
                var submitted: [String] = []
                for try await txID in group { if let txID { submitted.append(txID) } }
                return submitted
            }
        }
        // Their outcomes, as another clinician sees them (dr-carter may no longer ask).
        let outcomes = try await network.withGateway(peer: 0, user: "dr-shah") { gateway in
            var outcomes: [Gateway_CommitStatusResponse] = []
            for txID in submitted { outcomes.append(try await gateway.commitStatus(channel: channel, transactionID: txID)) }
            return outcomes
        }
        // Where the config block went: the first block whose last config is itself.
        let height = try await network.height(peer: 0)
        let (blocks, _) = try await network.orderer.deliver(channel: channel, start: configBlock, stop: height - 1, signer: try network.signer(org: "HospitalA", user: "admin"))
        let configNumber = try #require(blocks.first { $0.holdsConfigTransaction }?.header.number)
        #expect(outcomes.count >= 3, "\(outcomes.count) of dr-carter's transactions committed")
        for outcome in outcomes {
            #expect(outcome.blockNumber < configNumber && outcome.result == .valid, "block \(outcome.blockNumber) (config block \(configNumber)): \(outcome.result)")
        }
        // Nothing of dr-carter's is in a block after the config block.
        let creators = try blocks.filter { $0.header.number > configNumber }.flatMap(\.data.data).map { try TransactionEnvelope(serialized: $0).signatureHeader.creator }
        #expect(!creators.contains(Data(doctor.serialized)))
        await #expect(throws: (any Error).self) {
            try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
                _ = try await gateway.submit(channel: channel, chaincode: "kv", arguments: ["put", "late", "1"])
            }
        }
    }

    @Test func aThirdHospitalJoinsTheRunningNetworkAndEndorsesUnderAPolicyThatNamesIt() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        let channel = network.channel
        let medrex = ChildProcess.medrex
        // ClinicC is added to network.yaml; generating again keeps the hospitals' CAs and makes ClinicC's.
        let (peerPort, operationsPort) = (try ChildProcess.freePort(), try ChildProcess.freePort())
        let networkFile = network.work.appendingPathComponent("network.yaml")
        var text = try String(contentsOf: networkFile, encoding: .utf8)
        let clinic = """
          - name: ClinicC
            mspID: ClinicCMSP
            domain: clinic-c.test
            peers: [{ name: peer0, port: \(peerPort), operationsPort: \(operationsPort) }]
            admins: [{ name: admin }]
            users:
              - name: dr-ito
                attributes: { role: consulting_doctor, specialty: oncology, hospital: ClinicC }
        channels:
        """
        text = text.replacingOccurrences(of: "channels:\n", with: clinic + "\n")
        try text.write(to: networkFile, atomically: true, encoding: .utf8)
        let generated = try await ChildProcess.run(medrex, ["crypto", "generate", "--config", networkFile.path, "--output", network.crypto.path, "--force"])
        try #require(generated.status == 0, "\(generated.output)")
        let clinicMSP = CryptoMaterialLayout(root: network.crypto, organization: "ClinicC").organizationMSP.directory.path

        // HospitalA's admin makes the update, HospitalB's admin signs it, either submits it.
        let file = network.work.appendingPathComponent("add-clinic.pb").path
        let made = try await ChildProcess.run(medrex, ["channel", "update"] + callerOptions(network, org: "HospitalA") + [
            "--add-org", "ClinicCMSP=\(clinicMSP)", "--anchor-peer", "ClinicCMSP=127.0.0.1:\(peerPort)", "--output", file,
        ])
        #expect(made.status == 0 && made.output.contains("[Groups] /Channel/Application/ClinicCMSP: added"), "\(made.output)")
        let heightBefore = try await network.height(peer: 0)
        // One admin of two is not a majority of the Application admins: refused, nothing changes.
        let early = try await ChildProcess.run(medrex, ["channel", "submit-update"] + callerOptions(network, org: "HospitalA") + ["--file", file])
        #expect(early.status != 0 && early.output.contains("/Channel/Application"), "\(early.output)")
        let signed = try await ChildProcess.run(medrex, [
            "channel", "sign-update", "--crypto", network.crypto.path, "--org", "HospitalB", "--msp-id", "HospitalBMSP", "--file", file,
        ])
        #expect(signed.status == 0 && signed.output.contains("2 signatures"), "\(signed.output)")
        let submitted = try await ChildProcess.run(medrex, ["channel", "submit-update"] + callerOptions(network, org: "HospitalB") + ["--file", file])
        #expect(submitted.status == 0, "\(submitted.output)")
        for peer in 0..<2 { try await network.waitForHeight(heightBefore + 1, peer: peer) }

        // ClinicC's peer starts with no channel and joins from the genesis block; it catches up
        // from the orderer through the config block that added its organization.
        var render = NetworkRenderer.Options()
        render.crypto = network.crypto.path
        render.chaincodes = [("kv", "1.0")]
        let nodes = network.work.appendingPathComponent("nodes")
        for rendered in try NetworkRenderer(network: try NetworkDescription.load(file: networkFile.path), options: render).render() where rendered.path.hasSuffix("peer0-ClinicC.yaml") {
            try Data(rendered.contents.utf8).write(to: nodes.appendingPathComponent(rendered.path))
        }
        let clinicPeer = Daemon(
            arguments: ["peer", "start", "--config", nodes.appendingPathComponent("127.0.0.1/peer0-ClinicC.yaml").path], logFile: network.work.appendingPathComponent("peer0-ClinicC.log"))
        try clinicPeer.start()
        defer { clinicPeer.stop() }
        // It serves (unhealthy until it joins a channel).
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? await HTTP.get("http://127.0.0.1:\(operationsPort)/healthz")) == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        let joined = try await ChildProcess.run(medrex, [
            "channel", "join", "--crypto", network.crypto.path, "--org", "ClinicC", "--msp-id", "ClinicCMSP", "--peer", "127.0.0.1:\(peerPort)",
            "--genesis", nodes.appendingPathComponent("127.0.0.1/carechannel.block").path, "--chaincode", "kv:1.0",
        ])
        #expect(joined.status == 0, "\(joined.output)\n\(clinicPeer.log)")
        let caughtUp = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < caughtUp {
            let metrics = (try? await HTTP.get("http://127.0.0.1:\(operationsPort)/metrics").body) ?? ""
            if metrics.contains("medrex_ledger_height_blocks{channel=\"\(channel)\"} \(heightBefore + 1)") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(clinicPeer.log.contains("channel configuration updated"), "\(clinicPeer.log)")

        // kv's definition moves to a policy that needs ClinicC: two of the three organizations approve.
        let policy = "AND('HospitalAMSP.peer', 'ClinicCMSP.peer')"
        let steps: [(org: String, port: Int, peerOrg: String, step: String)] = [
            ("HospitalA", network.peers[0].port, "HospitalA", "approve"), ("ClinicC", peerPort, "ClinicC", "approve"),
            ("HospitalA", network.peers[0].port, "HospitalA", "commit"),
        ]
        for (org, port, peerOrg, step) in steps {
            let admin = try CryptoMaterialLoader.loadSigningIdentity(
                CryptoMaterialLayout(root: network.crypto, organization: org).member(kind: .user, name: "admin").msp, mspID: "\(org)MSP")
            try await GatewayClient.withConnection(
                host: "127.0.0.1", port: port, tls: network.clientTLS(org: org, user: "admin", trusting: peerOrg), signer: admin
            ) { gateway in
                let txID = try await gateway.submit(channel: channel, chaincode: ChaincodeDefinition.namespace, arguments: [step, "kv", "1.0", "2", policy])
                #expect(try await gateway.commitStatus(channel: channel, transactionID: txID).result == .valid, "\(step) by \(org)")
            }
        }
        // HospitalA's gateway now asks ClinicC's peer (an anchor peer of the new configuration).
        let txID = try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
            let txID = try await gateway.submit(channel: channel, chaincode: "kv", arguments: ["put", "shared-with-clinic", "1"])
            #expect(try await gateway.commitStatus(channel: channel, transactionID: txID).result == .valid)
            return txID
        }
        // ClinicC's own clinician reads it through ClinicC's peer once it has the block.
        let doctor = try CryptoMaterialLoader.loadSigningIdentity(
            CryptoMaterialLayout(root: network.crypto, organization: "ClinicC").member(kind: .user, name: "dr-ito").msp, mspID: "ClinicCMSP")
        try await GatewayClient.withConnection(
            host: "127.0.0.1", port: peerPort, tls: network.clientTLS(org: "ClinicC", user: "dr-ito", trusting: "ClinicC"), signer: doctor
        ) { gateway in
            #expect(try await gateway.commitStatus(channel: channel, transactionID: txID).result == .valid)
            let value = try await gateway.evaluate(channel: channel, chaincode: "kv", arguments: ["get", "shared-with-clinic"])
            #expect(String(decoding: value.payload, as: UTF8.self) == "1")
        }
    }

    /// The orderer moves to another port: the orderer organization's admin puts the new endpoint
    /// into the channel, and from that config block on the peers pull blocks from it and send
    /// transactions to it, without a restart.
    @Test func peersFollowTheOrdererToItsNewEndpointFromTheConfigBlock() async throws {
        let network = try await LocalTestNetwork.start()
        defer { network.stopAll() }
        let (oldPort, newPort) = (network.orderer.port, try ChildProcess.freePort())
        let heightBefore = try await network.height(peer: 0)
        let update = try await ChildProcess.run(ChildProcess.medrex, ["channel", "update"] + callerOptions(network, org: "OrdererOrg") + [
            "--orderer-endpoints", "OrdererMSP=127.0.0.1:\(newPort),127.0.0.1:\(oldPort)", "--submit",
        ])
        #expect(update.status == 0 && update.output.contains("[Values] /Channel/Orderer/OrdererMSP/Endpoints: version 0 -> 1"), "\(update.output)")
        for peer in 0..<2 { try await network.waitForHeight(heightBefore + 1, peer: peer) }
        // The orderer restarts on the new port only.
        network.ordererProcess.stop()
        let file = network.work.appendingPathComponent("nodes/127.0.0.1/orderer0.yaml")
        let text = try String(contentsOf: file, encoding: .utf8)
        try text.replacingOccurrences(of: "listen: 127.0.0.1:\(oldPort)", with: "listen: 127.0.0.1:\(newPort)").write(to: file, atomically: true, encoding: .utf8)
        try network.ordererProcess.start()
        try await network.withGateway(peer: 0, user: "dr-carter") { gateway in
            let txID = try await gateway.submit(channel: network.channel, chaincode: "kv", arguments: ["put", "moved", "1"])
            #expect(try await gateway.commitStatus(channel: network.channel, transactionID: txID).result == .valid)
        }
        try await network.waitForHeight(heightBefore + 2, peer: 1)
        #expect(network.peers[0].process.log.contains("the channel's orderers changed"))
    }
}
