/// A Parley account name: 3 to 32 characters of `[a-z0-9_.-]`, starting with a letter, stored in
/// lower case.
///
/// Every module that names a user needs this type, so it lives in the shared core; the rule is the
/// Accounts domain's and is enforced here, at the only initialiser, so an invalid name cannot exist.
public struct Username: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public let value: String

    public static let lengthRange = 3...32

    /// Validates and normalises `raw` (ASCII upper case is folded to lower case).
    /// - Throws: ``UsernameError`` naming the rule that failed.
    public init(_ raw: String) throws(UsernameError) {
        let lowered = String(raw.unicodeScalars.map { scalar -> Character in
            if scalar.value >= 65 && scalar.value <= 90 { return Character(Unicode.Scalar(scalar.value + 32)!) }
            return Character(scalar)
        })
        let scalars = Array(lowered.unicodeScalars)
        guard Self.lengthRange.contains(scalars.count) else {
            throw .invalidLength(scalars.count)
        }
        guard let first = scalars.first, ("a"..."z").contains(first) else {
            throw .mustStartWithLetter
        }
        for scalar in scalars where !(("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "." || scalar == "-") {
            throw .invalidCharacter(String(scalar))
        }
        value = lowered
    }

    public var description: String { value }

    public static func < (lhs: Username, rhs: Username) -> Bool { lhs.value < rhs.value }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(raw) } catch {
            throw Swift.DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid username: \(error)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// Why a string is not a valid ``Username``.
public enum UsernameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than 3 or more than 32 characters.
    case invalidLength(Int)
    /// The first character is not a letter a-z.
    case mustStartWithLetter
    /// A character outside `[a-z0-9_.-]`.
    case invalidCharacter(String)

    public var description: String {
        switch self {
        case .invalidLength(let count): "a username has 3 to 32 characters (got \(count))"
        case .mustStartWithLetter: "a username starts with a letter a-z"
        case .invalidCharacter(let character): "a username may contain only a-z, 0-9, '_', '.' and '-' (found \(character.debugDescription))"
        }
    }
}
