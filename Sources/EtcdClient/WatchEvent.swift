import LedgerWire

/// One change to a watched key.
package struct WatchEvent: Sendable, Hashable {
    package enum Kind: Sendable, Hashable {
        case put
        case delete
    }

    package var kind: Kind
    /// For a put, the key as written. For a delete, the key with an empty value, version 0 and
    /// `modRevision` set to the deleting revision.
    package var keyValue: KeyValue

    package init(kind: Kind, keyValue: KeyValue) {
        self.kind = kind
        self.keyValue = keyValue
    }

    package var key: [UInt8] { keyValue.key }
    package var value: [UInt8] { keyValue.value }
    /// The store revision of the change.
    package var modRevision: Int64 { keyValue.modRevision }

    init(_ wire: Mvccpb_Event) throws {
        guard wire.hasKv else { throw EtcdError(.malformedResponse, "a watch event carries no key") }
        let kind: Kind =
            switch wire.type {
            case .put: .put
            case .delete: .delete
            case .UNRECOGNIZED(let raw): throw EtcdError(.malformedResponse, "a watch event has unknown type \(raw)")
            }
        self.init(kind: kind, keyValue: KeyValue(wire.kv))
    }
}
