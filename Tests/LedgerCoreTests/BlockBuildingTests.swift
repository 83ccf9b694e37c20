import Foundation
import LedgerWire
import Testing
import TestSupport

@testable import LedgerCore

@Suite struct BlockBuildingTests {
    /// Rebuilding a recorded block from its envelopes and its predecessor's hash yields the very
    /// header Fabric's orderer produced.
    @Test(arguments: try FabricVectors.manifest())
    func rebuildsFabricHeaders(record: FabricVectors.BlockRecord) throws {
        let (_, recorded) = try FabricVectors.block(record)
        let rebuilt = Common_Block(number: record.number, previousHash: recorded.header.previousHash, envelopes: recorded.data.data)
        #expect(rebuilt.header == recorded.header)
        #expect(rebuilt.header.hash.hexString == record.headerHashHex)
        #expect(rebuilt.metadata.metadata.count == Common_Block.metadataSlotCount)
        #expect(recorded.metadata.metadata.count == Common_Block.metadataSlotCount)
    }

    @Test func emptyBlockHasTheHashOfNothing() {
        let block = Common_Block(number: 0, previousHash: [], envelopes: [])
        #expect(block.header.dataHash.hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
