import Crypto
import Foundation
import LedgerWire
import SwiftProtobuf
import Testing
import TestSupport

@testable import LedgerCore

/// Blocks recorded from Fabric 3.1.5, decoded with our wire types and recomputed with our helpers.
@Suite struct FabricBlockVectorTests {
    @Test(arguments: try FabricVectors.manifest())
    func blockHashesMatchFabric(record: FabricVectors.BlockRecord) throws {
        let (_, block) = try FabricVectors.block(record)
        #expect(block.header.number == record.number)
        #expect(block.header.previousHash.hexString == record.previousHashHex)
        #expect(block.header.dataHash.hexString == record.dataHashHex)
        #expect(block.data.hash.hexString == record.dataHashHex)
        #expect(block.hasConsistentDataHash)
        #expect(block.header.hash.hexString == record.headerHashHex)
        #expect(block.data.data.count == record.transactionCount)
    }

    /// Fabric's orderers fill the consenter metadata with their consensus metadata, which
    /// protobuf also decodes as a Timestamp (0, 0): it is no ordering time, so validation applies
    /// no time window to Fabric's blocks (it marked every transaction BAD_CHANNEL_HEADER, found
    /// by the `block` fuzz target).
    @Test(arguments: try FabricVectors.manifest())
    func fabricBlocksCarryNoOrderingTime(record: FabricVectors.BlockRecord) throws {
        var (_, block) = try FabricVectors.block(record)
        #expect(block.orderingTime == nil)
        // The same block with a Medrex orderer's time in its place has it.
        let time = Date(timeIntervalSince1970: 1_800_000_000.25)
        var signatures = try Common_Metadata(serializedBytes: block.metadata.metadata[Common_BlockMetadataIndex.signatures.rawValue])
        var ordererMetadata = try Common_OrdererBlockMetadata(serializedBytes: signatures.value)
        ordererMetadata.consenterMetadata = try Google_Protobuf_Timestamp(date: time).serializedData()
        signatures.value = try ordererMetadata.serializedData()
        block.metadata.metadata[Common_BlockMetadataIndex.signatures.rawValue] = try signatures.serializedData()
        #expect(block.orderingTime.map { abs($0.timeIntervalSince(time)) < 0.001 } == true)
    }

    @Test func chainLinksEachBlockToItsPredecessor() throws {
        let records = try FabricVectors.manifest().filter { $0.number <= 4 }
        let blocks = try records.map { try FabricVectors.block($0).block }
        for (previous, next) in zip(blocks, blocks.dropFirst()) {
            #expect(next.header.previousHash == Data(previous.header.hash))
        }
    }

    @Test(arguments: try FabricVectors.manifest())
    func transactionsMatchFabric(record: FabricVectors.BlockRecord) throws {
        let (_, block) = try FabricVectors.block(record)
        let codes = try #require(block.transactionValidationCodes)
        for (index, entry) in block.data.data.enumerated() {
            let expected = record.transactions[index]
            let transaction = try TransactionEnvelope(serialized: entry)
            #expect(transaction.channelHeader.txID == expected.txid)
            #expect(transaction.expectedTransactionID == expected.txid)
            #expect(transaction.channelHeader.channelID == expected.channelID)
            #expect(String(describing: transaction.headerType) == headerTypeName(expected.headerType))
            #expect(SHA256.hash(data: transaction.envelope.payload).hexString == expected.payloadSHA256)
            #expect(codes[index].name == expected.validationCode)
            #expect(Int(codes[index].filterByte) == expected.validationCodeNumber)
        }
    }

    @Test func readWriteSetsMatchFabric() throws {
        var checked = 0
        for record in try FabricVectors.manifest() where record.number > 0 {
            let (_, block) = try FabricVectors.block(record)
            for (index, entry) in block.data.data.enumerated() {
                let expected = record.transactions[index]
                let transaction = try TransactionEnvelope(serialized: entry)
                let endorsed = try EndorserTransaction(payloadData: transaction.payload.data)
                #expect(endorsed.chaincodeAction.chaincodeID.name == expected.chaincode)
                #expect(endorsed.endorsements.count == expected.endorserMSPIDs?.count)
                #expect(describeReads(endorsed) == (expected.reads ?? []))
                if let writes = expected.writes { #expect(describeWrites(endorsed) == writes) }
                checked += 1
            }
        }
        #expect(checked == 70)
    }

    /// Our generated types must re-encode Fabric's bytes exactly: same fields, same numbers.
    @Test(arguments: try FabricVectors.manifest())
    func reencodingReproducesFabricBytes(record: FabricVectors.BlockRecord) throws {
        let (bytes, block) = try FabricVectors.block(record)
        #expect(try block.serializedData() == bytes)
        for entry in block.data.data {
            let envelope = try Common_Envelope(serializedBytes: entry)
            #expect(try envelope.serializedData() == entry)
            let payload = try Common_Payload(serializedBytes: envelope.payload)
            #expect(try payload.serializedData() == envelope.payload)
            #expect(payload.unknownFields.data.isEmpty)
        }
    }

    @Test func malformedEnvelopesGetFabricsValidationCodes() throws {
        #expect(failure { try TransactionEnvelope(serialized: Data()) } == .nilEnvelope)
        #expect(failure { try TransactionEnvelope(serialized: Data([0xff, 0xff])) } == .nilEnvelope)
        var envelope = Common_Envelope()
        envelope.payload = Data([0x0a, 0x05, 0x01])
        #expect(failure { try TransactionEnvelope(envelope: envelope) } == .badPayload)
        var payload = Common_Payload()
        payload.header.channelHeader = Data([0x08, 0xff])
        envelope.payload = try payload.serializedData()
        #expect(failure { try TransactionEnvelope(envelope: envelope) } == .badChannelHeader)
        #expect(failure { _ = try EndorserTransaction(payloadData: Data()) } == .invalidEndorserTransaction)
    }

    private func failure(_ body: () throws -> Any) -> Protos_TxValidationCode? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? TransactionEnvelope.DecodingFailure)?.validationCode
        }
    }

    private func headerTypeName(_ fabricName: String) -> String {
        switch fabricName {
        case "CONFIG": "config"
        case "ENDORSER_TRANSACTION": "endorserTransaction"
        default: fabricName
        }
    }

    /// The manifest's notation: `namespace/"key"@block:tx`, or `@nil` for a key read as absent.
    private func describeReads(_ transaction: EndorserTransaction) -> [String] {
        transaction.readWriteSets.flatMap { namespace, set in
            set.reads.map { read in
                let version = read.hasVersion ? "\(read.version.blockNum):\(read.version.txNum)" : "nil"
                return "\(namespace)/\"\(read.key)\"@\(version)"
            }
        }
    }

    private func describeWrites(_ transaction: EndorserTransaction) -> [String] {
        transaction.readWriteSets.flatMap { namespace, set in
            set.writes.map { "\(namespace)/\"\($0.key)\" del=\($0.isDelete) len=\($0.value.count)" }
        }
    }
}

@Suite struct CoreHelperTests {
    @Test func transactionIDIsSHA256OfNonceAndCreator() {
        // SHA-256("abc") — the nonce/creator split does not matter, only the concatenation.
        #expect(TransactionID.make(nonce: Array("ab".utf8), creator: Array("c".utf8))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(TransactionID.make(nonce: [], creator: []).count == TransactionID.textLength)
    }

    @Test func headerHashEncodesTheASN1Sequence() {
        var header = Common_BlockHeader()
        header.number = 1
        header.previousHash = Data([0xaa])
        header.dataHash = Data([0xbb, 0xcc])
        // SEQUENCE { INTEGER 1, OCTET STRING aa, OCTET STRING bbcc }
        #expect(header.asn1Bytes == [0x30, 0x0a, 0x02, 0x01, 0x01, 0x04, 0x01, 0xaa, 0x04, 0x02, 0xbb, 0xcc])
        header.number = 128  // needs a leading zero byte to stay positive
        #expect(Array(header.asn1Bytes.prefix(6)) == [0x30, 0x0b, 0x02, 0x02, 0x00, 0x80])
        header.number = UInt64.max
        #expect(Array(header.asn1Bytes.prefix(5)) == [0x30, 0x12, 0x02, 0x09, 0x00])
    }

    @Test func hexRoundTrips() {
        let bytes: [UInt8] = [0x00, 0x7f, 0x80, 0xff]
        #expect(bytes.hexString == "007f80ff")
        #expect([UInt8](hexString: "007F80ff") == bytes)
        #expect([UInt8](hexString: "abc") == nil)
        #expect([UInt8](hexString: "zz") == nil)
    }

    @Test func everyValidationCodeHasANameAndACause() {
        let codes: [Protos_TxValidationCode] = (0...25).compactMap { Protos_TxValidationCode(rawValue: $0) } + [.notValidated, .invalidOtherReason]
        #expect(codes.count == 28)
        for code in codes {
            #expect(!code.cause.isEmpty)
            #expect(code.name == code.name.uppercased())
        }
        #expect(Set(codes.map(\.cause)).count == codes.count)
        #expect(Protos_TxValidationCode.mvccReadConflict.filterByte == 11)
    }
}
