import Foundation
import Yams

/// Reads one YAML node of a configuration file with errors that carry the file, line and field
/// path. A mapping reader remembers which keys were read so that `finish()` can refuse unknown
/// (usually misspelled) fields instead of ignoring them.
struct YAMLNodeReader {
    let node: Node
    let file: String
    let path: String
    private var readKeys: Set<String> = []

    init(node: Node, file: String, path: String) {
        self.node = node
        self.file = file
        self.path = path
    }

    /// Parses `text` and returns a reader over its root mapping.
    static func root(yaml text: String, file: String) throws(ConfigError) -> YAMLNodeReader {
        let parsed: Node?
        do {
            parsed = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(.syntax, file: file, line: Self.line(of: error), field: "", reason: "not valid YAML: \(Self.problem(of: error))")
        }
        guard let parsed else {
            throw ConfigError(.missingField, file: file, line: nil, field: "", reason: "the file is empty")
        }
        let reader = YAMLNodeReader(node: parsed, file: file, path: "")
        _ = try reader.mapping()
        return reader
    }

    var line: Int? { node.mark?.line }

    func error(_ code: ConfigError.Code, _ reason: String) -> ConfigError {
        ConfigError(code, file: file, line: line, field: path, reason: reason)
    }

    private func mapping() throws(ConfigError) -> Node.Mapping {
        guard let mapping = node.mapping else { throw error(.wrongType, "expected a mapping of fields") }
        return mapping
    }

    private func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The child field `key`, or nil when it is absent (or null).
    mutating func optionalField(_ key: String) throws(ConfigError) -> YAMLNodeReader? {
        readKeys.insert(key)
        guard let child = try mapping()[key] else { return nil }
        if case .scalar(let scalar) = child, scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
            return nil
        }
        return YAMLNodeReader(node: child, file: file, path: childPath(key))
    }

    mutating func field(_ key: String) throws(ConfigError) -> YAMLNodeReader {
        guard let child = try optionalField(key) else {
            throw ConfigError(.missingField, file: file, line: line, field: childPath(key), reason: "required field is missing")
        }
        return child
    }

    /// Refuses, before anything else is read, fields outside `names`: a misspelled field is then
    /// reported as unknown rather than as a missing required field.
    func allowOnly(_ names: Set<String>) throws(ConfigError) {
        for key in try mapping().keys {
            guard let name = key.string, !names.contains(name) else { continue }
            let known = names.sorted().joined(separator: ", ")
            throw ConfigError(.unknownField, file: file, line: key.mark?.line, field: childPath(name), reason: "unknown field (expected one of \(known))")
        }
    }

    /// Refuses fields that were never asked for.
    func finish() throws(ConfigError) {
        for key in try mapping().keys {
            guard let name = key.string, !readKeys.contains(name) else { continue }
            throw ConfigError(.unknownField, file: file, line: key.mark?.line, field: childPath(name), reason: "unknown field")
        }
    }

    func string() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node else { throw error(.wrongType, "expected a text value") }
        return scalar.string
    }

    func nonEmptyString() throws(ConfigError) -> String {
        let text = try string()
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw error(.invalidValue, "must not be empty") }
        return text
    }

    /// `true` or `false`.
    func bool() throws(ConfigError) -> Bool {
        guard case .scalar(let scalar) = node, let value = Bool(scalar.string) else {
            throw error(.wrongType, "expected true or false")
        }
        return value
    }

    func integer(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            throw error(.wrongType, "expected an integer")
        }
        guard range.contains(value) else {
            throw error(.invalidValue, "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func list() throws(ConfigError) -> [YAMLNodeReader] {
        guard case .sequence(let sequence) = node else { throw error(.wrongType, "expected a list") }
        return sequence.enumerated().map { YAMLNodeReader(node: $1, file: file, path: "\(path)[\($0)]") }
    }

    /// A mapping of text keys to text values (scalars of any YAML type are taken as text).
    func stringMap() throws(ConfigError) -> [(key: String, value: String, reader: YAMLNodeReader)] {
        var result: [(String, String, YAMLNodeReader)] = []
        for (key, value) in try mapping() {
            guard let name = key.string else { throw error(.wrongType, "keys must be text") }
            let child = YAMLNodeReader(node: value, file: file, path: childPath(name))
            result.append((name, try child.string(), child))
        }
        return result
    }

    private static func problem(of error: any Error) -> String {
        guard let yamlError = error as? YamlError else { return "\(error)" }
        switch yamlError {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _), .composer(let context, let problem, _, _):
            return [context.map { "\($0.text)" }, problem].compactMap { $0 }.joined(separator: " ")
        default:
            return "\(yamlError)"
        }
    }

    private static func line(of error: any Error) -> Int? {
        guard let yamlError = error as? YamlError else { return nil }
        switch yamlError {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }
}
