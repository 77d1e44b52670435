import Accounts
import ClientCore
import Conversations
import Envelope
import Foundation
import Prekeys
import Primitives
import SecureChannel
import ServerCore
import Testing

/// SECURITY.md lists every limit with its default (issue 10, "Also required"); this keeps the
/// document and the code from drifting apart: each row's default must be the code's, and every
/// limit named here must have its row.
@Suite("SECURITY.md's limits are the code's")
struct SecurityDocumentTests {
    enum Shown: Equatable, CustomStringConvertible {
        case count(Int)
        case bytes(Int)
        case duration(Duration)

        /// The value as the document writes it: "10,000", "256 MiB", "16 KiB", "30 s", "15 min",
        /// "24 h", "30 days".
        var description: String {
            switch self {
            case .count(let value):
                return value.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US")))
            case .bytes(let value):
                for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] where value >= 1 << shift && value % (1 << shift) == 0 {
                    return "\(value >> shift) \(unit)"
                }
                return "\(value) bytes"
            case .duration(let value):
                let seconds = Int(value.components.seconds)
                if seconds % 86_400 == 0 && seconds >= 2 * 86_400 { return "\(seconds / 86_400) days" }
                if seconds % 3600 == 0 && seconds >= 3600 { return "\(seconds / 3600) h" }
                if seconds % 60 == 0 && seconds >= 60 { return "\(seconds / 60) min" }
                return "\(seconds) s"
            }
        }
    }

    static var limits: [String: Shown] {
        let configuration = ServerConfiguration()
        let channel = ChannelLimits()
        return [
            "ServerLimits.maxEnvelopesPerRecipient": .count(ServerLimits.maxEnvelopesPerRecipient),
            "ServerLimits.maxBytesPerRecipient": .bytes(ServerLimits.maxBytesPerRecipient),
            "ServerLimits.maxPayloadBytes": .bytes(ServerLimits.maxPayloadBytes),
            "ServerLimits.maxEnvelopesPerSenderPerRecipient": .count(ServerLimits.maxEnvelopesPerSenderPerRecipient),
            "ServerLimits.maxBytesPerSenderPerRecipient": .bytes(ServerLimits.maxBytesPerSenderPerRecipient),
            "ServerLimits.maxMailboxBytesTotal": .bytes(ServerLimits.maxMailboxBytesTotal),
            "ServerLimits.maxInFlightSendsPerConnection": .count(ServerLimits.maxInFlightSendsPerConnection),
            "ServerLimits.maxInFlightSendBytesPerConnection": .bytes(ServerLimits.maxInFlightSendBytesPerConnection),
            "ServerLimits.registrationBurst": .count(ServerLimits.registrationBurst),
            "ServerLimits.registrationRefill": .duration(ServerLimits.registrationRefill),
            "ServerLimits.maxOneTimePrekeysPerAccount": .count(ServerLimits.maxOneTimePrekeysPerAccount),
            "PrekeyPolicy.maxOneTimePrekeysPerUpload": .count(PrekeyPolicy.maxOneTimePrekeysPerUpload),
            "ServerLimits.bundleFetchesPerRequesterBurst": .count(ServerLimits.bundleFetchesPerRequesterBurst),
            "ServerLimits.bundleFetchRefillPerRequester": .duration(ServerLimits.bundleFetchRefillPerRequester),
            "ServerLimits.oneTimePrekeysPerTargetBurst": .count(ServerLimits.oneTimePrekeysPerTargetBurst),
            "ServerLimits.oneTimePrekeyRefillPerTarget": .duration(ServerLimits.oneTimePrekeyRefillPerTarget),
            "ServerLimits.maxRateLimitedKeys": .count(ServerLimits.maxRateLimitedKeys),
            "AccountLimits.failuresBeforeLockout": .count(AccountLimits.failuresBeforeLockout),
            "AccountLimits.sourceFailuresBeforeLockout": .count(AccountLimits.sourceFailuresBeforeLockout),
            "AccountLimits.firstLockout": .duration(AccountLimits.firstLockout),
            "AccountLimits.maximumLockout": .duration(AccountLimits.maximumLockout),
            "AccountLimits.loginFailureDecay": .duration(AccountLimits.loginFailureDecay),
            "AccountLimits.maxThrottledKeys": .count(AccountLimits.maxThrottledKeys),
            "AccountLimits.minimumPasswordLength": .count(AccountLimits.minimumPasswordLength),
            "AccountLimits.maximumPasswordBytes": .count(AccountLimits.maximumPasswordBytes),
            "Argon2Cost.interactive": .bytes(Argon2Cost.interactive.memoryBytes),
            "ServerConfiguration.maxConcurrentPasswordHashes": .count(configuration.maxConcurrentPasswordHashes),
            "ServerConfiguration.maxQueuedPasswordHashes": .count(configuration.maxQueuedPasswordHashes),
            "ServerConfiguration.authenticationAttemptsPerAddress.burst": .count(configuration.authenticationAttemptsPerAddress.burst),
            "ServerConfiguration.authenticationAttemptsPerAddress.refillInterval": .duration(configuration.authenticationAttemptsPerAddress.refillInterval),
            "ServerConfiguration.loginDeadline": .duration(configuration.loginDeadline),
            "ChannelLimits.maxConnections": .count(channel.maxConnections),
            "ChannelLimits.maxConnectionsPerAddress": .count(channel.maxConnectionsPerAddress),
            "ChannelLimits.maxBufferedInboundBytes": .bytes(channel.maxBufferedInboundBytes),
            "ChannelLimits.preLoginMaxFrameBytes": .bytes(channel.preLoginMaxFrameBytes),
            "ChannelLimits.maxFrameBytes": .bytes(channel.maxFrameBytes),
            "ChannelLimits.handshakeTimeout": .duration(channel.handshakeTimeout),
            "ChannelLimits.unauthenticatedIdleTimeout": .duration(channel.unauthenticatedIdleTimeout),
            "ChannelLimits.keepAliveInterval": .duration(channel.keepAliveInterval),
            "ChannelLimits.deadPeerTimeout": .duration(channel.deadPeerTimeout),
            "ChannelLimits.outboundHighWaterMark": .bytes(channel.outboundHighWaterMark),
            "EnvelopeLimits.maxTextBytes": .bytes(EnvelopeLimits.maxTextBytes),
            "EnvelopeLimits.maxImageBytes": .bytes(EnvelopeLimits.maxImageBytes),
            "EnvelopeLimits.maxImageDimension": .count(EnvelopeLimits.maxImageDimension),
            "ConversationLimits.maxSkip": .count(Int(ConversationLimits.maxSkip)),
            "ConversationLimits.maxSkippedMessageKeys": .count(ConversationLimits.maxSkippedMessageKeys),
            "ConversationLimits.maxPreviousSessions": .count(ConversationLimits.maxPreviousSessions),
            "ConversationLimits.maxRememberedDeliveries": .count(ConversationLimits.maxRememberedDeliveries),
            "SentLogLimits.standard.maxEntries": .count(SentLogLimits.standard.maxEntries),
            "SentLogLimits.standard.maxBytes": .bytes(SentLogLimits.standard.maxBytes),
            "SentLogLimits.standard.maxAge": .duration(SentLogLimits.standard.maxAge),
            "ClientLimits.maxResends": .count(ClientLimits.maxResends),
            "ClientLimits.maxDeferredDeliveries": .count(ClientLimits.maxDeferredDeliveries),
            "PrekeyPolicy.handedOutOneTimePrekeyRetention": .duration(PrekeyPolicy.handedOutOneTimePrekeyRetention),
            "PrekeyPolicy.signedPrekeyRotation": .duration(PrekeyPolicy.signedPrekeyRotation),
            "PrekeyPolicy.signedPrekeyRetention": .duration(PrekeyPolicy.signedPrekeyRetention),
        ]
    }

    /// The rows of SECURITY.md's "Limits" table: code name -> the default as written.
    static func documentedLimits() throws -> [String: String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("SECURITY.md"), encoding: .utf8)
        let section = try #require(text.components(separatedBy: "\n## Limits\n").dropFirst().first?.components(separatedBy: "\n## ").first)
        var rows: [String: String] = [:]
        for line in section.split(separator: "\n") where line.hasPrefix("|") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, cells[3].hasPrefix("`"), cells[3].hasSuffix("`") else { continue }
            let name = String(cells[3].dropFirst().dropLast())
            #expect(rows[name] == nil, "\(name) has two rows")
            rows[name] = cells[2]
        }
        return rows
    }

    @Test("every documented default is the code's, and every limit has its row")
    func everyDefaultMatches() throws {
        let documented = try Self.documentedLimits()
        let limits = Self.limits
        for (name, value) in limits.sorted(by: { $0.key < $1.key }) {
            let row = try #require(documented[name], "SECURITY.md has no row for \(name)")
            #expect(row == value.description, "SECURITY.md says \(name) is \(row); the code says \(value)")
        }
        for name in documented.keys where limits[name] == nil {
            Issue.record("SECURITY.md names \(name), which this test does not check")
        }
    }

    @Test("values are written the way the document writes them")
    func unitsReadAsWritten() {
        #expect(Shown.bytes(16 << 10).description == "16 KiB")
        #expect(Shown.bytes(11 << 20).description == "11 MiB")
        #expect(Shown.duration(.seconds(30 * 86_400)).description == "30 days")
        #expect(Shown.duration(.seconds(86_400)).description == "24 h")
        #expect(Shown.count(100_000).description == "100,000")
    }
}
