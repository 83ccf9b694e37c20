import Foundation
import LedgerCore
import LedgerWire
import SwiftProtobuf

extension Common_Envelope {
    /// An envelope of `type` on `channelID` carrying `data`, created and signed by `signer`: the
    /// channel header (timestamped `time`, txid from `nonce` and the creator), the signature header,
    /// and the signature over the payload (Fabric's CreateSignedEnvelope).
    package static func signed(
        _ type: Common_HeaderType, channelID: String, data: Data, signer: SigningIdentity, time: Date,
        nonce: [UInt8] = (0..<24).map { _ in UInt8.random(in: 0...255) }, version: Int32 = 0
    ) throws -> Common_Envelope {
        var channelHeader = Common_ChannelHeader()
        channelHeader.type = Int32(type.rawValue)
        channelHeader.version = version
        channelHeader.channelID = channelID
        channelHeader.timestamp = Google_Protobuf_Timestamp(date: time)
        channelHeader.txID = TransactionID.make(nonce: nonce, creator: signer.serialized)
        var signatureHeader = Common_SignatureHeader()
        signatureHeader.creator = Data(signer.serialized)
        signatureHeader.nonce = Data(nonce)
        var payload = Common_Payload()
        payload.header.channelHeader = try channelHeader.serializedData()
        payload.header.signatureHeader = try signatureHeader.serializedData()
        payload.data = data
        var envelope = Common_Envelope()
        envelope.payload = try payload.serializedData()
        envelope.signature = Data(try signer.sign(envelope.payload))
        return envelope
    }
}
