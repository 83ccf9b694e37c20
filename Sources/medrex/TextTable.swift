/// A plain-text table for the terminal: a header row, a rule, and the rows, each column as wide as
/// its widest cell (cells are ids and codes: ASCII, so characters are columns).
struct TextTable {
    let headers: [String]
    private(set) var rows: [[String]] = []

    init(_ headers: String...) { self.headers = headers }

    mutating func append(_ cells: String...) { rows.append(cells) }
    mutating func append(row cells: [String]) { rows.append(cells) }

    var rendered: String {
        let widths = headers.indices.map { column in ([headers] + rows).map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            headers.indices.map { column in
                let cell = cells.indices.contains(column) ? cells[column] : ""
                return column == headers.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(headers), rule] + rows.map(line)).joined(separator: "\n")
    }
}
