import Foundation
import LedgerWire
import SwiftProtobuf

/// The headers of a transaction envelope, decoded once: what every stage (orderer, validator,
/// gateway) reads before anything else. Decoding failures carry the validation code Fabric
/// assigns to such a transaction.
package struct TransactionEnvelope: Sendable {
    package let envelope: Common_Envelope
    package let payload: Common_Payload
    package let channelHeader: Common_ChannelHeader
    package let signatureHeader: Common_SignatureHeader

    package struct DecodingFailure: Error, Hashable, CustomStringConvertible {
        package let validationCode: Protos_TxValidationCode
        package let reason: String
        package var description: String { "\(validationCode.name): \(reason)" }
    }

    package init(serialized bytes: Data) throws(DecodingFailure) {
        guard !bytes.isEmpty else { throw DecodingFailure(validationCode: .nilEnvelope, reason: "envelope is empty") }
        guard let envelope = try? Common_Envelope(serializedBytes: bytes) else {
            throw DecodingFailure(validationCode: .nilEnvelope, reason: "bytes are not a common.Envelope")
        }
        try self.init(envelope: envelope)
    }

    package init(envelope: Common_Envelope) throws(DecodingFailure) {
        guard let payload = try? Common_Payload(serializedBytes: envelope.payload), payload.hasHeader else {
            throw DecodingFailure(validationCode: .badPayload, reason: "envelope payload is not a common.Payload with a header")
        }
        guard let channelHeader = try? Common_ChannelHeader(serializedBytes: payload.header.channelHeader) else {
            throw DecodingFailure(validationCode: .badChannelHeader, reason: "channel header is not a common.ChannelHeader")
        }
        guard let signatureHeader = try? Common_SignatureHeader(serializedBytes: payload.header.signatureHeader) else {
            throw DecodingFailure(validationCode: .badCommonHeader, reason: "signature header is not a common.SignatureHeader")
        }
        self.envelope = envelope
        self.payload = payload
        self.channelHeader = channelHeader
        self.signatureHeader = signatureHeader
    }

    package var headerType: Common_HeaderType { Common_HeaderType(rawValue: Int(channelHeader.type)) ?? .UNRECOGNIZED(Int(channelHeader.type)) }

    /// The txid recomputed from the nonce and creator; equal to `channelHeader.txID` when the
    /// transaction id is bound correctly.
    package var expectedTransactionID: String {
        TransactionID.make(nonce: signatureHeader.nonce, creator: signatureHeader.creator)
    }
}
