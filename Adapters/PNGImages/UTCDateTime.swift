import Primitives

/// The UTC calendar date and time of a ``Timestamp``, for file names.
///
/// Computed with Howard Hinnant's `civil_from_days` algorithm rather than Foundation's
/// `Calendar`: it is exact for every Int64 millisecond count, needs no time-zone database, and
/// cannot pick up the machine's local zone by accident.
struct UTCDateTime: Equatable {
    var year: Int64
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int
    var second: Int

    init(_ timestamp: Timestamp) {
        // Floor division, so instants before 1970 land on the right day and second.
        let (days, secondOfDay) = Self.floorDivide(Self.floorDivide(timestamp.millisecondsSinceEpoch, 1000).quotient, 86_400)
        hour = Int(secondOfDay / 3600)
        minute = Int(secondOfDay % 3600 / 60)
        second = Int(secondOfDay % 60)

        let z = days + 719_468
        let era = Self.floorDivide(z, 146_097).quotient
        let dayOfEra = z - era * 146_097  // [0, 146096]
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365  // [0, 399]
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // [0, 365]
        let monthIndex = (5 * dayOfYear + 2) / 153  // [0, 11], March first
        day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// `YYYY-MM-DD`.
    var dateStamp: String { "\(Self.pad(year, 4))-\(Self.pad(Int64(month), 2))-\(Self.pad(Int64(day), 2))" }
    /// `HHMMSS`.
    var timeStamp: String { "\(Self.pad(Int64(hour), 2))\(Self.pad(Int64(minute), 2))\(Self.pad(Int64(second), 2))" }

    /// True for exactly ten characters `DDDD-DD-DD` (digits and dashes), the shape of
    /// ``dateStamp`` for years 0...9999.
    static func isDateStamp(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10 else { return false }
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 7 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return false }
            }
        }
        return true
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64) {
        var quotient = a / b
        var remainder = a % b
        if remainder < 0 {
            quotient -= 1
            remainder += b
        }
        return (quotient, remainder)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value.magnitude)
        let sign = value < 0 ? "-" : ""
        return sign + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
