import ClientCore
import Conversations
import Envelope
import Foundation
import Primitives

/// The daemon's methods: the JSON-RPC front end's parser (params -> ``ClientCommand``) and its
/// inverse for the command line talking to a daemon (``request(for:)``). The same operations as
/// the command line, no more, no fewer, plus subscribe / unsubscribe.
enum RPCMethods {
    /// What one request asks for.
    enum Call: Sendable, Equatable {
        case command(ClientCommand)
        /// Events after `after` (nil: only those from now on).
        case subscribe(after: UInt64?)
        case unsubscribe
    }

    /// Every method, as docs/parley.openrpc.json lists them.
    static let names = [
        "send", "sendImage", "history", "requests", "contacts", "accept", "reject", "block", "unblock", "safetyNumber", "verify",
        "trust", "images", "markRead", "deleteHistory", "version", "subscribe", "unsubscribe",
    ]

    /// Parses `method` with `params` (an object or absent).
    /// - Throws: ``RPCError/methodNotFound(_:)``, ``RPCError/invalidParams(_:)``, or a usage error
    ///   when an image cannot be read.
    static func parse(method: String, params: JSONValue?) throws(RPCError) -> Call {
        guard names.contains(method) else { throw .methodNotFound(method) }
        let members: [String: JSONValue]
        switch params {
        case nil, .null?: members = [:]
        case .object(let object)?: members = object
        default: throw .invalidParams("params must be an object")
        }
        let reader = Params(members: members, method: method)
        switch method {
        case "send":
            try reader.allow(["to", "text"])
            return .command(.send(to: try reader.user("to"), text: try reader.string("text", nonEmpty: true)))
        case "sendImage":
            try reader.allow(["to", "path"])
            let to = try reader.user("to")
            let path = try reader.string("path", nonEmpty: true)
            let png: [UInt8]
            do { png = try readImageFile(path) } catch let error as CLIError { throw RPCError(error) } catch {
                throw .usage("cannot read \(path)")
            }
            return .command(.sendImage(to: to, png: png, fileName: (path as NSString).lastPathComponent))
        case "history":
            try reader.allow(["peer", "limit"])
            let limit = try reader.optionalInteger("limit", in: 1...Int64(ClientCommand.maxHistoryLimit)) ?? 50
            return .command(.history(with: try reader.user("peer"), limit: Int(limit)))
        case "requests":
            try reader.allow([])
            return .command(.requests)
        case "contacts":
            try reader.allow([])
            return .command(.contacts)
        case "images":
            try reader.allow(["peer", "save", "number"])
            let number = try reader.optionalInteger("number", in: 1...Int64(ClientLimits.maxImagesListed)).map { Int($0) }
            return .command(.images(try reader.user("peer"), save: try reader.optionalBool("save") ?? false, number: number))
        case "accept", "reject", "block", "unblock", "safetyNumber", "verify", "trust":
            try reader.allow(["peer"])
            let peer = try reader.user("peer")
            let command: ClientCommand =
                switch method {
                case "accept": .accept(peer)
                case "reject": .reject(peer)
                case "block": .block(peer)
                case "unblock": .unblock(peer)
                case "safetyNumber": .safetyNumber(peer)
                case "verify": .verify(peer)
                default: .trust(peer)
                }
            return .command(command)
        case "markRead":
            try reader.allow(["peer", "ids"])
            let ids: [MessageID]?
            switch members["ids"] {
            case nil, .null?: ids = nil
            case .array(let items)?:
                guard items.count <= EnvelopeLimits.maxReceiptIDs else { throw .invalidParams("ids: at most \(EnvelopeLimits.maxReceiptIDs)") }
                ids = try items.map { item throws(RPCError) in
                    guard let hex = item.stringValue, let bytes = Hex.decode(hex), let id = try? MessageID(bytes: bytes) else {
                        throw .invalidParams("ids: each must be a message id (32 hexadecimal characters)")
                    }
                    return id
                }
            default: throw .invalidParams("ids must be an array of message ids")
            }
            return .command(.markRead(peer: try reader.user("peer"), ids: ids))
        case "deleteHistory":
            try reader.allow(["peer", "images"])
            return .command(.deleteHistory(with: try reader.user("peer"), includingImages: try reader.optionalBool("images") ?? false))
        case "version":
            try reader.allow([])
            return .command(.version)
        case "subscribe":
            try reader.allow(["after"])
            return .subscribe(after: try reader.optionalInteger("after", in: 0...Int64.max).map { UInt64($0) })
        default:
            try reader.allow([])
            return .unsubscribe
        }
    }

    /// The method and params that ask a daemon for `command` (the command line's side); nil for
    /// the commands the daemon does not offer (viewing an image, which would answer with its
    /// pixels, and the `save-images` setting), which the command line runs directly.
    static func request(for command: ClientCommand) -> (method: String, params: JSONValue)? {
        switch command {
        case .send(let to, let text): ("send", ["to": .string(to.value), "text": .string(text)])
        case .sendImage(let to, _, let fileName): ("sendImage", ["to": .string(to.value), "path": .string(fileName)])
        case .history(let peer, let limit): ("history", ["peer": .string(peer.value), "limit": .integer(Int64(limit))])
        case .requests: ("requests", [:])
        case .contacts: ("contacts", [:])
        case .accept(let peer): ("accept", ["peer": .string(peer.value)])
        case .reject(let peer): ("reject", ["peer": .string(peer.value)])
        case .block(let peer): ("block", ["peer": .string(peer.value)])
        case .unblock(let peer): ("unblock", ["peer": .string(peer.value)])
        case .safetyNumber(let peer): ("safetyNumber", ["peer": .string(peer.value)])
        case .verify(let peer): ("verify", ["peer": .string(peer.value)])
        case .trust(let peer): ("trust", ["peer": .string(peer.value)])
        case .images(let peer, let save, let number):
            ("images", number.map { ["peer": .string(peer.value), "save": .bool(save), "number": .integer(Int64($0))] }
                ?? ["peer": .string(peer.value), "save": .bool(save)])
        case .viewImage, .saveImagesSetting: nil
        case .markRead(let peer, let ids):
            ("markRead", ids.map { ["peer": .string(peer.value), "ids": .array($0.map { .string($0.hex) })] } ?? ["peer": .string(peer.value)])
        case .deleteHistory(let peer, let images): ("deleteHistory", ["peer": .string(peer.value), "images": .bool(images)])
        case .version: ("version", [:])
        }
    }

    /// Reads typed params, refusing unknown names and wrong types with -32602.
    private struct Params {
        let members: [String: JSONValue]
        let method: String

        func allow(_ names: Set<String>) throws(RPCError) {
            // `auth` is the TCP token, checked before parsing; allowed on every method.
            for name in members.keys where !names.contains(name) && name != "auth" {
                throw .invalidParams("\(method) has no parameter \(name)")
            }
        }

        func string(_ name: String, nonEmpty: Bool = false) throws(RPCError) -> String {
            guard let value = members[name] else { throw .invalidParams("\(method) needs \(name)") }
            guard let text = value.stringValue else { throw .invalidParams("\(name) must be a string") }
            if nonEmpty && text.isEmpty { throw .invalidParams("\(name) must not be empty") }
            return text
        }

        func user(_ name: String) throws(RPCError) -> Username {
            let raw = try string(name)
            do { return try Username(raw) } catch { throw .invalidParams("\(name): '\(raw)' is not a valid username") }
        }

        func optionalInteger(_ name: String, in range: ClosedRange<Int64>) throws(RPCError) -> Int64? {
            guard let value = members[name], value != .null else { return nil }
            guard let number = value.integerValue, range.contains(number) else {
                throw .invalidParams("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }

        func optionalBool(_ name: String) throws(RPCError) -> Bool? {
            guard let value = members[name], value != .null else { return nil }
            guard let flag = value.boolValue else { throw .invalidParams("\(name) must be true or false") }
            return flag
        }
    }
}
