import Primitives

/// Where a PostgreSQL database is: parsed from `postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE`
/// (the `postgres://` spelling is accepted too), the form `parley-server --database` and
/// `PARLEY_DATABASE_URL` take.
///
/// Only what the adapter uses is understood: no query parameters, no Unix sockets, no TLS (a node
/// talks to its database over a trusted network or loopback in this step; TLS is future work).
public struct PostgresDatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String

    public init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses `text`.
    /// - Throws: ``StoreError/unavailable(_:)`` naming what is wrong with it (the password is
    ///   never repeated in the message).
    public init(parsing text: String) throws(StoreError) {
        var rest = Substring(text)
        guard let scheme = ["postgresql://", "postgres://"].first(where: { rest.hasPrefix($0) }) else {
            throw .unavailable("a database URL starts with postgresql://")
        }
        rest = rest.dropFirst(scheme.count)
        guard let at = rest.lastIndex(of: "@") else { throw .unavailable("the database URL has no USER@ part") }
        let userInfo = rest[..<at]
        rest = rest[rest.index(after: at)...]
        guard let slash = rest.firstIndex(of: "/") else { throw .unavailable("the database URL has no /DATABASE part") }
        let hostPort = rest[..<slash]
        let database = rest[rest.index(after: slash)...]
        guard !database.isEmpty, !database.contains("?"), !database.contains("/") else {
            throw .unavailable("the database URL's database name is missing or has parameters (not supported)")
        }
        let user: Substring
        if let colon = userInfo.firstIndex(of: ":") {
            user = userInfo[..<colon]
            password = Self.percentDecoded(userInfo[userInfo.index(after: colon)...])
        } else {
            user = userInfo
            password = nil
        }
        guard !user.isEmpty else { throw .unavailable("the database URL has an empty user name") }
        if let colon = hostPort.lastIndex(of: ":") {
            guard let port = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(port) else {
                throw .unavailable("the database URL's port is not 1...65535")
            }
            self.port = port
            host = String(hostPort[..<colon])
        } else {
            port = 5432
            host = String(hostPort)
        }
        guard !host.isEmpty else { throw .unavailable("the database URL has no host") }
        username = Self.percentDecoded(user)
        self.database = Self.percentDecoded(database)
    }

    /// The URL without its password.
    public var description: String {
        "postgresql://\(username)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
    }

    private static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
               let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
