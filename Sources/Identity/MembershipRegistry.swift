import Foundation

/// The MSPs a node knows (a channel's organizations), by MSP id. Verifies a signature together with
/// the identity that claims it.
package struct MembershipRegistry: Sendable {
    private let providers: [String: MembershipServiceProvider]

    package init(_ providers: [MembershipServiceProvider]) {
        self.providers = Dictionary(providers.map { ($0.mspID, $0) }, uniquingKeysWith: { first, _ in first })
    }

    package var mspIDs: [String] { providers.keys.sorted() }

    package func provider(for mspID: String) -> MembershipServiceProvider? { providers[mspID] }

    /// Validates the serialized identity against the MSP it names.
    package func validate(serializedIdentity bytes: some DataProtocol, at time: Date) throws(IdentityError) -> ValidatedIdentity {
        let mspID = try SerializedIdentity.mspID(of: bytes)
        guard let provider = providers[mspID] else {
            throw IdentityError(.unknownMSP, "identity names MSP '\(mspID)', which is not a member here")
        }
        return try provider.validate(serializedIdentity: bytes, at: time)
    }

    /// Validates the identity, then its signature over `message`; returns the identity when both hold.
    package func verify(
        signature: some DataProtocol, over message: some DataProtocol, by serializedIdentity: some DataProtocol, at time: Date
    ) throws(IdentityError) -> ValidatedIdentity {
        let identity = try validate(serializedIdentity: serializedIdentity, at: time)
        try SignatureVerifier.verify(signature: signature, over: message, publicKey: identity.publicKey)
        return identity
    }
}
