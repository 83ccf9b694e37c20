import LedgerCore
import LedgerWire

/// The codes of a refused configuration update (`ConfigUpdateError`).
package enum ConfigUpdateErrorCode: String, DomainErrorCode {
    /// The envelope, the update or a config element does not decode or has an illegal key.
    case malformed
    /// The update names another channel.
    case wrongChannel
    /// The update's read set names an element at another version than the configuration's.
    case staleReadSet
    /// An element of the write set has a version that is not the next one (or 0 for a new one).
    case badVersion
    /// The write set changes nothing.
    case emptyUpdate
    /// The signatures do not satisfy the `mod_policy` of an element the update changes.
    case policyNotSatisfied
    /// The configuration the update would produce is not a valid one (no orderer left, a CRL not
    /// signed by its CA, an unparseable MSP, another consensus type...).
    case invalidResult
    /// A CONFIG envelope's configuration is not the one its last update produces, or its sequence
    /// is not the next one.
    case mismatch
}

/// A configuration update or CONFIG transaction refused, with Fabric's reasons.
package typealias ConfigUpdateError = DomainError<ConfigUpdateErrorCode>

/// One element of a channel configuration tree as Fabric's configtx addresses it: a group, a value
/// or a policy, by the path of the groups above it (starting with `Channel`) and its key, e.g.
/// `[Values] /Channel/Orderer/BatchSize`.
package struct ConfigElement: Sendable {
    package enum Kind: String, Sendable {
        case group = "[Groups]"
        case value = "[Values]"
        case policy = "[Policy]"
    }

    package let kind: Kind
    /// The groups above the element, from the root group `Channel`.
    package let path: [String]
    package let key: String
    /// For a group: the group itself (its children's names say what it holds).
    package var group: Common_ConfigGroup?
    package var value: Common_ConfigValue?
    package var policy: Common_ConfigPolicy?

    package var version: UInt64 { group?.version ?? value?.version ?? policy?.version ?? 0 }
    package var modPolicy: String { group?.modPolicy ?? value?.modPolicy ?? policy?.modPolicy ?? "" }

    /// Fabric's key for the element: `[Groups] /Channel/Application/Org1MSP`.
    package var id: String { Self.id(kind, path + [key]) }

    static func id(_ kind: Kind, _ fullPath: [String]) -> String { "\(kind.rawValue) /" + fullPath.joined(separator: "/") }
}

/// A configuration tree flattened into its elements by id, and built back (Fabric's configmap):
/// an update overlays the elements it changes, and the tree is rebuilt from the root group down,
/// each group holding the children its own element names, so a group whose new version omits a
/// child drops it.
package enum ConfigTree {
    /// The root group's name.
    package static let rootKey = "Channel"

    /// Every element of the tree under `root` (the channel group), by id. Refuses illegal keys.
    package static func flatten(_ root: Common_ConfigGroup) throws(ConfigUpdateError) -> [String: ConfigElement] {
        var elements: [String: ConfigElement] = [:]
        try add(group: root, key: rootKey, path: [], into: &elements)
        return elements
    }

    private static func add(group: Common_ConfigGroup, key: String, path: [String], into elements: inout [String: ConfigElement]) throws(ConfigUpdateError) {
        try checkKey(key)
        let element = ConfigElement(kind: .group, path: path, key: key, group: group)
        elements[element.id] = element
        let inner = path + [key]
        for (name, child) in group.groups { try add(group: child, key: name, path: inner, into: &elements) }
        for (name, value) in group.values {
            try checkKey(name)
            let element = ConfigElement(kind: .value, path: inner, key: name, value: value)
            elements[element.id] = element
        }
        for (name, policy) in group.policies {
            try checkKey(name)
            let element = ConfigElement(kind: .policy, path: inner, key: name, policy: policy)
            elements[element.id] = element
        }
    }

    /// The channel group rebuilt from `elements`, starting at the root group.
    package static func rebuild(_ elements: [String: ConfigElement]) throws(ConfigUpdateError) -> Common_ConfigGroup {
        try rebuildGroup([rootKey], elements)
    }

    private static func rebuildGroup(_ fullPath: [String], _ elements: [String: ConfigElement]) throws(ConfigUpdateError) -> Common_ConfigGroup {
        guard var group = elements[ConfigElement.id(.group, fullPath)]?.group else {
            throw ConfigUpdateError(.malformed, "the configuration has no group at \(fullPath.joined(separator: "/"))")
        }
        for name in group.groups.keys { group.groups[name] = try rebuildGroup(fullPath + [name], elements) }
        for name in group.values.keys {
            guard let value = elements[ConfigElement.id(.value, fullPath + [name])]?.value else {
                throw ConfigUpdateError(.malformed, "the configuration has no value at \((fullPath + [name]).joined(separator: "/"))")
            }
            group.values[name] = value
        }
        for name in group.policies.keys {
            guard let policy = elements[ConfigElement.id(.policy, fullPath + [name])]?.policy else {
                throw ConfigUpdateError(.malformed, "the configuration has no policy at \((fullPath + [name]).joined(separator: "/"))")
            }
            group.policies[name] = policy
        }
        return group
    }

    /// Fabric's config ids: 1–249 characters of letters, digits, `.`, `-` and `_`, not `.` or `..`.
    package static func checkKey(_ key: String) throws(ConfigUpdateError) {
        let allowed = key.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2E || byte == 0x2D || byte == 0x5F
        }
        guard !key.isEmpty, key.utf8.count <= 249, allowed, key != ".", key != ".." else {
            throw ConfigUpdateError(.malformed, "illegal configuration key '\(key.prefix(64))': use 1-249 letters, digits, '.', '-' or '_'")
        }
    }

    /// Fabric's mod_policy rule: set, and every path element a legal key.
    package static func checkModPolicy(_ modPolicy: String, of id: String) throws(ConfigUpdateError) {
        guard !modPolicy.isEmpty else { throw ConfigUpdateError(.malformed, "element \(id) has no mod_policy") }
        let trimmed = modPolicy.hasPrefix("/") ? String(modPolicy.dropFirst()) : modPolicy
        for part in trimmed.split(separator: "/", omittingEmptySubsequences: false) {
            do {
                try checkKey(String(part))
            } catch {
                throw ConfigUpdateError(.malformed, "element \(id) has an invalid mod_policy '\(modPolicy.prefix(128))'")
            }
        }
    }
}
