import Crypto
import Foundation
import SwiftASN1
import X509

/// An X.509 v2 certificate revocation list (RFC 5280 §5), as a Fabric MSP keeps them in `crls/`:
/// the issuing CA's name, the update times and the revoked serial numbers, signed by the CA with
/// ECDSA-with-SHA256. Encoded and decoded here because swift-certificates has no CRL type.
package struct CertificateRevocationList: Sendable, Hashable {
    package struct Entry: Sendable, Hashable {
        package let serialNumber: Certificate.SerialNumber
        package let revocationDate: Date
    }

    package let issuer: DistinguishedName
    package let thisUpdate: Date
    package let nextUpdate: Date?
    package let entries: [Entry]
    /// The whole CRL, DER-encoded.
    package let derBytes: [UInt8]
    private let tbsBytes: ArraySlice<UInt8>
    private let signatureAlgorithm: ASN1ObjectIdentifier
    private let signature: [UInt8]

    static let ecdsaWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]

    /// Builds and signs a CRL.
    static func make(
        issuer: DistinguishedName,
        revoked: [Entry],
        thisUpdate: Date,
        nextUpdate: Date,
        signer: P256.Signing.PrivateKey
    ) throws(IdentityError) -> CertificateRevocationList {
        do {
            var tbs = DER.Serializer()
            try tbs.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(1 as Int)  // v2
                try coder.appendConstructedNode(identifier: .sequence) { try $0.serialize(ecdsaWithSHA256) }
                try coder.serialize(issuer)
                try serializeTime(thisUpdate, into: &coder)
                try serializeTime(nextUpdate, into: &coder)
                if !revoked.isEmpty {
                    try coder.appendConstructedNode(identifier: .sequence) { list in
                        for entry in revoked {
                            try list.appendConstructedNode(identifier: .sequence) { item in
                                try item.serialize(entry.serialNumber.bytes)
                                try serializeTime(entry.revocationDate, into: &item)
                            }
                        }
                    }
                }
            }
            let tbsBytes = tbs.serializedBytes
            let signature = LowS.normalize(try signer.signature(for: tbsBytes)).derRepresentation
            var whole = DER.Serializer()
            try whole.appendConstructedNode(identifier: .sequence) { coder in
                coder.serializeRawBytes(tbsBytes)
                try coder.appendConstructedNode(identifier: .sequence) { try $0.serialize(ecdsaWithSHA256) }
                try coder.serialize(ASN1BitString(bytes: ArraySlice(signature)))
            }
            return try CertificateRevocationList(derEncoded: whole.serializedBytes)
        } catch let error as IdentityError {
            throw error
        } catch {
            throw IdentityError(.issuanceFailed, "CRL of '\(issuer)' could not be encoded: \(error)")
        }
    }

    /// Decodes a DER CRL. Anything that is not a well-formed v1/v2 CRL is `.malformedRevocationList`.
    package init(derEncoded bytes: [UInt8]) throws(IdentityError) {
        do {
            let root = try DER.parse(bytes)
            var parsed: (ArraySlice<UInt8>, DistinguishedName, Date, Date?, [Entry], ASN1ObjectIdentifier, [UInt8])?
            try DER.sequence(root, identifier: .sequence) { nodes in
                guard let tbsNode = nodes.next() else { throw IdentityError(.malformedRevocationList, "CRL has no body") }
                let body = try Self.parseBody(tbsNode)
                let algorithm = try Self.parseAlgorithm(&nodes)
                let signatureBits = try ASN1BitString(derEncoded: &nodes)
                parsed = (tbsNode.encodedBytes, body.issuer, body.thisUpdate, body.nextUpdate, body.entries, algorithm, Array(signatureBits.bytes))
            }
            guard let parsed else { throw IdentityError(.malformedRevocationList, "CRL is empty") }
            (tbsBytes, issuer, thisUpdate, nextUpdate, entries, signatureAlgorithm, signature) = parsed
            derBytes = bytes
        } catch let error as IdentityError {
            throw error
        } catch {
            throw IdentityError(.malformedRevocationList, "bytes are not a DER certificate revocation list: \(error)")
        }
    }

    /// Decodes a PEM CRL (`-----BEGIN X509 CRL-----`).
    package init(pemEncoded text: String) throws(IdentityError) {
        let document: PEMDocument
        do {
            document = try PEMDocument(pemString: text)
        } catch {
            throw IdentityError(.malformedRevocationList, "text is not a PEM document")
        }
        guard document.discriminator == "X509 CRL" else {
            throw IdentityError(.malformedRevocationList, "PEM document is a '\(document.discriminator)', not an 'X509 CRL'")
        }
        try self.init(derEncoded: document.derBytes)
    }

    package var pemString: String { PEMDocument(type: "X509 CRL", derBytes: derBytes).pemString }

    /// True when the CRL's signature verifies under `publicKey` (ECDSA P-256 with SHA-256 only).
    package func isSigned(by publicKey: Certificate.PublicKey) -> Bool {
        guard signatureAlgorithm == Self.ecdsaWithSHA256, let key = P256.Signing.PublicKey(publicKey),
            let ecdsa = try? P256.Signing.ECDSASignature(derRepresentation: signature)
        else { return false }
        return key.isValidSignature(ecdsa, for: tbsBytes)
    }

    package func revokes(_ serialNumber: Certificate.SerialNumber) -> Bool {
        entries.contains { $0.serialNumber == serialNumber }
    }

    // MARK: - Parsing helpers

    private struct Body {
        var issuer: DistinguishedName
        var thisUpdate: Date
        var nextUpdate: Date?
        var entries: [Entry]
    }

    private static func parseBody(_ node: ASN1Node) throws -> Body {
        try DER.sequence(node, identifier: .sequence) { nodes in
            var next = nodes.next()
            if let version = next, version.identifier == .integer {
                guard try Int(derEncoded: version) == 1 else {
                    throw IdentityError(.malformedRevocationList, "unsupported CRL version")
                }
                next = nodes.next()
            }
            guard let algorithmNode = next else { throw IdentityError(.malformedRevocationList, "CRL has no algorithm") }
            _ = algorithmNode
            guard let issuerNode = nodes.next() else { throw IdentityError(.malformedRevocationList, "CRL has no issuer") }
            let issuer = try DistinguishedName(derEncoded: issuerNode)
            guard let thisUpdateNode = nodes.next() else { throw IdentityError(.malformedRevocationList, "CRL has no thisUpdate") }
            let thisUpdate = try parseTime(thisUpdateNode)
            var nextUpdate: Date?
            var entries: [Entry] = []
            while let item = nodes.next() {
                switch item.identifier {
                case .utcTime, .generalizedTime: nextUpdate = try parseTime(item)
                case .sequence: entries = try parseEntries(item)
                default: break  // [0] crlExtensions: none is needed to decide revocation
                }
            }
            return Body(issuer: issuer, thisUpdate: thisUpdate, nextUpdate: nextUpdate, entries: entries)
        }
    }

    private static func parseEntries(_ node: ASN1Node) throws -> [Entry] {
        guard case .constructed(let items) = node.content else {
            throw IdentityError(.malformedRevocationList, "revoked certificates are not a sequence")
        }
        return try items.map { entry in
            try DER.sequence(entry, identifier: .sequence) { nodes in
                let serial = try ArraySlice<UInt8>(derEncoded: &nodes)
                guard let dateNode = nodes.next() else { throw IdentityError(.malformedRevocationList, "CRL entry has no date") }
                while nodes.next() != nil {}  // entry extensions (reason codes) are not needed
                return Entry(serialNumber: Certificate.SerialNumber(bytes: serial), revocationDate: try parseTime(dateNode))
            }
        }
    }

    private static func parseAlgorithm(_ nodes: inout ASN1NodeCollection.Iterator) throws -> ASN1ObjectIdentifier {
        guard let node = nodes.next() else { throw IdentityError(.malformedRevocationList, "CRL has no signature algorithm") }
        return try DER.sequence(node, identifier: .sequence) { inner in
            let oid = try ASN1ObjectIdentifier(derEncoded: &inner)
            while inner.next() != nil {}
            return oid
        }
    }

    private static func parseTime(_ node: ASN1Node) throws -> Date {
        switch node.identifier {
        case .utcTime:
            let time = try UTCTime(derEncoded: node)
            return try date(time.year, time.month, time.day, time.hours, time.minutes, time.seconds)
        case .generalizedTime:
            let time = try GeneralizedTime(derEncoded: node)
            return try date(time.year, time.month, time.day, time.hours, time.minutes, time.seconds)
        default:
            throw IdentityError(.malformedRevocationList, "CRL time is neither UTCTime nor GeneralizedTime")
        }
    }

    private static func serializeTime(_ date: Date, into coder: inout DER.Serializer) throws {
        let parts = utcCalendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let (year, month, day) = (parts.year!, parts.month!, parts.day!)
        let (hour, minute, second) = (parts.hour!, parts.minute!, parts.second!)
        if (1950..<2050).contains(year) {
            try coder.serialize(UTCTime(year: year, month: month, day: day, hours: hour, minutes: minute, seconds: second))
        } else {
            try coder.serialize(GeneralizedTime(
                year: year, month: month, day: day, hours: hour, minutes: minute, seconds: second, fractionalSeconds: 0))
        }
    }

    private static func date(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int) throws -> Date {
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard let date = utcCalendar.date(from: components) else {
            throw IdentityError(.malformedRevocationList, "CRL time is not a calendar date")
        }
        return date
    }

    private static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
