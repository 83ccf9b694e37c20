import Crypto
import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import Testing
import TestSupport
import X509

@testable import Endorser

@Suite struct ProposalCheckerTests {
    let fabricProposal: Protos_SignedProposal
    let checker: ProposalChecker
    let proposedAt: Date

    init() throws {
        fabricProposal = try Protos_SignedProposal(serializedBytes: FabricVectors.data("signed-proposal.pb"))
        let root = try Certificate(pemEncoded: FabricVectors.text("msp/org1-ca.pem"))
        let org1 = try MembershipServiceProvider(MSPConfiguration(mspID: "Org1MSP", rootCertificates: [root]))
        checker = ProposalChecker(membership: MembershipRegistry([org1]), channels: ["anchor"])
        let proposal = try Protos_Proposal(serializedBytes: fabricProposal.proposalBytes)
        let header = try Common_Header(serializedBytes: proposal.header)
        proposedAt = try Common_ChannelHeader(serializedBytes: header.channelHeader).timestamp.date
    }

    @Test func acceptsFabricsSignedProposal() throws {
        let checked = try checker.check(fabricProposal, now: proposedAt.addingTimeInterval(5))
        #expect(checked.transactionID == "886305b2df07a88d093105a58f5eb47e0949a706dd8558cf6013cc69cf66aeb7")
        #expect(checked.chaincodeName == "anchorcc")
        #expect(checked.arguments.map { String(decoding: $0, as: UTF8.self) } == ["put", "vector-key", "vector-value"])
        #expect(checked.creator.mspID == "Org1MSP")
        #expect(checked.creator.role == .client)
    }

    @Test func refusesATamperedProposal() throws {
        var tampered = fabricProposal
        tampered.proposalBytes[tampered.proposalBytes.count - 2] ^= 0x01
        #expect(code { try checker.check(tampered, now: proposedAt) } == .accessDenied)
        var badSignature = fabricProposal
        badSignature.signature = Data([0x30, 0x00])
        #expect(code { try checker.check(badSignature, now: proposedAt) } == .accessDenied)
    }

    @Test func refusesUnknownChannelAndCreator() throws {
        let elsewhere = ProposalChecker(membership: checker.membership, channels: ["other"])
        #expect(code { try elsewhere.check(fabricProposal, now: proposedAt) } == .unknownChannel)
        let strangers = ProposalChecker(membership: MembershipRegistry([try TestPKI(mspID: "Org1MSP").msp()]), channels: ["anchor"])
        #expect(code { try strangers.check(fabricProposal, now: proposedAt) } == .accessDenied)
    }

    @Test func refusesStaleOrFutureProposals() {
        #expect(code { try checker.check(fabricProposal, now: proposedAt.addingTimeInterval(16 * 60)) } == .timestampOutOfRange)
        #expect(code { try checker.check(fabricProposal, now: proposedAt.addingTimeInterval(-16 * 60)) } == .timestampOutOfRange)
    }

    @Test func refusesMalformedBytes() {
        var garbage = Protos_SignedProposal()
        garbage.proposalBytes = Data([0xff, 0xff, 0xff])
        #expect(code { try checker.check(garbage, now: proposedAt) } == .malformedProposal)
        #expect(code { try checker.check(Protos_SignedProposal(), now: proposedAt) } != nil)
    }

    /// A proposal we build and sign ourselves, with a txid that does not bind nonce and creator.
    @Test func refusesAnUnboundTransactionID() throws {
        let pki = try TestPKI(mspID: "HospitalAMSP")
        let client = try pki.identity("dr", units: ["client"])
        let local = ProposalChecker(membership: MembershipRegistry([try pki.msp()]), channels: ["healthchannel"])
        var signatureHeader = Common_SignatureHeader()
        signatureHeader.creator = Data(client.serialized)
        signatureHeader.nonce = Data((0..<24).map { UInt8($0) })
        var channelHeader = Common_ChannelHeader()
        channelHeader.type = Int32(Common_HeaderType.endorserTransaction.rawValue)
        channelHeader.channelID = "healthchannel"
        channelHeader.timestamp = Google_Protobuf_Timestamp(date: TestPKI.now)
        var headerExtension = Protos_ChaincodeHeaderExtension()
        headerExtension.chaincodeID.name = "phi"
        channelHeader.extension = try headerExtension.serializedData()
        func signed(txID: String, epoch: UInt64 = 0, seconds: Int64? = nil) throws -> Protos_SignedProposal {
            var header = channelHeader
            header.txID = txID
            header.epoch = epoch
            if let seconds { header.timestamp.seconds = seconds }
            var proposal = Protos_Proposal()
            proposal.header = try Common_Header.with {
                $0.channelHeader = try header.serializedData()
                $0.signatureHeader = try signatureHeader.serializedData()
            }.serializedData()
            proposal.payload = try Protos_ChaincodeProposalPayload().serializedData()
            var result = Protos_SignedProposal()
            result.proposalBytes = try proposal.serializedData()
            result.signature = Data(try client.sign(result.proposalBytes))
            return result
        }
        let goodID = TransactionID.make(nonce: signatureHeader.nonce, creator: signatureHeader.creator)
        #expect(try local.check(signed(txID: goodID), now: TestPKI.now).chaincodeName == "phi")
        #expect(code { try local.check(signed(txID: String(repeating: "0", count: 64)), now: TestPKI.now) } == .badTransactionID)
        // Fabric's header rules: epoch 0. Timestamps at the ends of Int64 are refused, not trapped on.
        #expect(code { try local.check(signed(txID: goodID, epoch: 1), now: TestPKI.now) } == .malformedProposal)
        for seconds in [Int64.min, Int64.max, Int64(TestPKI.now.timeIntervalSince1970) + 301, Int64(TestPKI.now.timeIntervalSince1970) - 301] {
            #expect(code { try local.check(signed(txID: goodID, seconds: seconds), now: TestPKI.now) } == .timestampOutOfRange, "\(seconds)")
        }
        // A channel whose Writers the creator does not satisfy (another organization's members only).
        let othersOnly = ProposalChecker(
            membership: local.membership, channels: ["healthchannel"], writers: try EndorsementPolicy.parse("'HospitalBMSP.member'"))
        #expect(code { try othersOnly.check(signed(txID: goodID), now: TestPKI.now) } == .accessDenied)
    }

    private func code(_ body: () throws -> CheckedProposal) -> EndorserError.Code? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? EndorserError)?.code
        }
    }
}
