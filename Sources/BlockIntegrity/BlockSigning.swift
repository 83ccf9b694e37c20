import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf

extension Common_Block {
    /// Signs the block as its orderer, in Fabric's SIGNATURES metadata: the value is an
    /// OrdererBlockMetadata (last config index, and the orderer's clock when it cut the block as a
    /// `google.protobuf.Timestamp` in its consenter metadata, `Common_Block.orderingTime`), and
    /// the signature covers value ‖ signature header ‖ the ASN.1 block header.
    package mutating func signAsOrderer(_ signer: SigningIdentity, lastConfigIndex: UInt64, time: Date, nonce: [UInt8]) throws {
        var ordererMetadata = Common_OrdererBlockMetadata()
        ordererMetadata.lastConfig.index = lastConfigIndex
        ordererMetadata.consenterMetadata = try Google_Protobuf_Timestamp(date: time).serializedData()
        var signatureHeader = Common_SignatureHeader()
        signatureHeader.creator = Data(signer.serialized)
        signatureHeader.nonce = Data(nonce)
        var metadata = Common_Metadata()
        metadata.value = try ordererMetadata.serializedData()
        var signature = Common_MetadataSignature()
        signature.signatureHeader = try signatureHeader.serializedData()
        signature.signature = Data(try signer.sign(metadata.value + signature.signatureHeader + Data(header.asn1Bytes)))
        metadata.signatures = [signature]
        while self.metadata.metadata.count < Self.metadataSlotCount { self.metadata.metadata.append(Data()) }
        self.metadata.metadata[Common_BlockMetadataIndex.signatures.rawValue] = try metadata.serializedData()
    }
}
