import Crypto
import LedgerWire
import SwiftASN1

extension Common_BlockHeader {
    /// The bytes Fabric hashes and signs for a block header: the DER encoding of
    /// `SEQUENCE { number INTEGER, previousHash OCTET STRING, dataHash OCTET STRING }`.
    package var asn1Bytes: [UInt8] {
        var serializer = DER.Serializer()
        // Serializing an integer and two octet strings cannot fail; a failure is a broken invariant.
        try! serializer.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(number)
            try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(previousHash)))
            try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(dataHash)))
        }
        return serializer.serializedBytes
    }

    /// SHA-256 of `asn1Bytes`: the value the next block carries as `previous_hash`.
    package var hash: [UInt8] { Array(SHA256.hash(data: asn1Bytes)) }
}

extension Common_BlockData {
    /// SHA-256 over the concatenation of every envelope in the block: Fabric's block data hash.
    package var hash: [UInt8] {
        var hasher = SHA256()
        for envelope in data { hasher.update(data: envelope) }
        return Array(hasher.finalize())
    }
}

extension Common_Block {
    /// True when the header's data hash matches the block's data.
    package var hasConsistentDataHash: Bool { header.dataHash.elementsEqual(data.hash) }
}
