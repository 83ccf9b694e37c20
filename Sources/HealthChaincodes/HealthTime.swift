import Chaincode
import Foundation

/// Times on the chain: ISO-8601 in UTC with milliseconds, always 24 characters
/// (`2026-09-22T07:30:00.000Z`), so that keys holding them sort in time order. Computed by
/// calendar arithmetic on integer milliseconds (no formatter, no locale, no clock), so every
/// endorser produces the same bytes.
public enum HealthTime {
    /// The earliest and latest representable instants: years 0001 and 9999 keep the width fixed.
    static let millisecondsMin: Int64 = -62_135_596_800_000  // 0001-01-01T00:00:00.000Z
    static let millisecondsMax: Int64 = 253_402_300_799_999  // 9999-12-31T23:59:59.999Z

    /// `date` in milliseconds since 1970, to the nearest millisecond. Throws for an instant
    /// outside years 0001...9999.
    public static func milliseconds(_ date: Date) throws(ChaincodeError) -> Int64 {
        let value = (date.timeIntervalSince1970 * 1000).rounded()
        guard value.isFinite, value >= Double(millisecondsMin), value <= Double(millisecondsMax) else {
            throw ChaincodeError(.invalidArgument, "the transaction timestamp is outside years 0001...9999")
        }
        return Int64(value)
    }

    /// The fixed-width text of `milliseconds` since 1970 (must be in years 0001...9999).
    public static func string(milliseconds: Int64) -> String {
        precondition((millisecondsMin...millisecondsMax).contains(milliseconds), "time outside years 0001...9999")
        let (days, dayMilliseconds) = floorDivision(milliseconds, 86_400_000)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let hour = dayMilliseconds / 3_600_000
        let minute = dayMilliseconds / 60_000 % 60
        let second = dayMilliseconds / 1000 % 60
        let millisecond = dayMilliseconds % 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(millisecond, 3))Z"
    }

    /// The fixed-width text of `date`.
    public static func string(_ date: Date) throws(ChaincodeError) -> String {
        string(milliseconds: try milliseconds(date))
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; the fraction has 1 to 9 digits and is
    /// truncated to milliseconds. nil for anything else (no leap seconds, no week dates, no
    /// omitted parts), or for an instant outside years 0001...9999 once in UTC.
    public static func parse(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 35 else { return nil }
        var reader = DigitReader(bytes: bytes)
        guard let year = reader.number(4), reader.skip("-"), let month = reader.number(2), reader.skip("-"),
            let day = reader.number(2), reader.skip("T"), let hour = reader.number(2), reader.skip(":"),
            let minute = reader.number(2), reader.skip(":"), let second = reader.number(2)
        else { return nil }
        guard year >= 1, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
            hour < 24, minute < 60, second < 60
        else { return nil }
        var millisecond: Int64 = 0
        if reader.skip(".") {
            let start = reader.index
            var digits: [Int64] = []
            while let digit = reader.digit() { digits.append(digit) }
            guard (1...9).contains(reader.index - start) else { return nil }
            for (position, digit) in digits.prefix(3).enumerated() { millisecond += digit * [100, 10, 1][position] }
        }
        var offsetMinutes: Int64 = 0
        if !reader.skip("Z") {
            let sign: Int64
            if reader.skip("+") { sign = 1 } else if reader.skip("-") { sign = -1 } else { return nil }
            guard let offsetHour = reader.number(2), reader.skip(":"), let offsetMinute = reader.number(2),
                offsetHour < 24, offsetMinute < 60
            else { return nil }
            offsetMinutes = sign * (offsetHour * 60 + offsetMinute)
        }
        guard reader.index == bytes.count else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let local = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millisecond
        let utc = local - offsetMinutes * 60_000
        guard (millisecondsMin...millisecondsMax).contains(utc) else { return nil }
        return utc
    }

    /// `text` parsed and written back in the fixed-width UTC form; nil when it does not parse.
    public static func normalize(_ text: String) -> String? {
        parse(text).map { string(milliseconds: $0) }
    }

    // MARK: - Calendar arithmetic (proleptic Gregorian, days since 1970-01-01)

    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = daysSinceEpoch + 719_468
        let era = floorDivision(shifted, 146_097).quotient
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let marchYear = month <= 2 ? year - 1 : year
        let era = floorDivision(marchYear, 400).quotient
        let yearOfEra = marchYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let quotient = value >= 0 ? value / divisor : (value - divisor + 1) / divisor
        return (quotient, value - quotient * divisor)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

/// Reads ASCII digits and separators from the front of a byte array.
private struct DigitReader {
    let bytes: [UInt8]
    var index = 0

    mutating func digit() -> Int64? {
        guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else { return nil }
        defer { index += 1 }
        return Int64(bytes[index] - UInt8(ascii: "0"))
    }

    mutating func number(_ width: Int) -> Int64? {
        var value: Int64 = 0
        for _ in 0..<width {
            guard let digit = digit() else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    mutating func skip(_ character: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }
}
