import Foundation
import LedgerWire

/// Blocks, a signed proposal and certificates recorded from a real Fabric 3.1.5 network, with the
/// values Fabric computed for them (Tests/Fixtures/fabric-vectors, copied from shared/).
package enum FabricVectors {
    package static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fabric-vectors")

    package static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    package static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    package static func manifest() throws -> [BlockRecord] {
        try JSONDecoder().decode([BlockRecord].self, from: data("manifest.json"))
    }

    package static func block(_ record: BlockRecord) throws -> (bytes: Data, block: Common_Block) {
        let bytes = try data(record.file)
        return (bytes, try Common_Block(serializedBytes: bytes))
    }

    package struct BlockRecord: Decodable, Sendable {
        package let file: String
        package let number: UInt64
        package let previousHashHex: String
        package let dataHashHex: String
        package let headerHashHex: String
        package let transactionCount: Int
        package let ordererSignatureCount: Int
        package let transactions: [TransactionRecord]

        enum CodingKeys: String, CodingKey {
            case file, number, transactions
            case previousHashHex = "previous_hash_hex"
            case dataHashHex = "data_hash_hex"
            case headerHashHex = "header_hash_hex"
            case transactionCount = "transaction_count"
            case ordererSignatureCount = "orderer_signature_count"
        }
    }

    package struct TransactionRecord: Decodable, Sendable {
        package let index: Int
        package let txid: String
        package let headerType: String
        package let channelID: String
        package let creatorMSPID: String
        package let validationCode: String
        package let validationCodeNumber: Int
        package let chaincode: String?
        package let endorserMSPIDs: [String]?
        package let reads: [String]?
        package let writes: [String]?
        package let payloadSHA256: String

        enum CodingKeys: String, CodingKey {
            case index, txid, chaincode, reads, writes
            case headerType = "header_type"
            case channelID = "channel_id"
            case creatorMSPID = "creator_mspid"
            case validationCode = "validation_code"
            case validationCodeNumber = "validation_code_number"
            case endorserMSPIDs = "endorser_mspids"
            case payloadSHA256 = "payload_sha256"
        }
    }
}
