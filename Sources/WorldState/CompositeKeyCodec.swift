import Chaincode

/// The prefix of a partial composite key, built with the SDK's encoding (Fabric's) so that
/// contracts and the state database can never disagree on it.
enum CompositeKeyCodec {
    static let maxCodePoint = CompositeKey.maxCodePoint

    static func prefix(objectType: String, attributes: [String]) throws(StorageError) -> String {
        do {
            return try CompositeKey.make(objectType: objectType, attributes: attributes)
        } catch {
            throw StorageError(.invalidArgument, error.message)
        }
    }
}
