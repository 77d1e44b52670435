import Primitives

/// A Noise `HandshakeState` (spec section 5.3) running the `XX` pattern:
///
/// ```
/// XX:
///   -> e
///   <- e, ee, s, es
///   -> s, se
/// ```
///
/// The initiator (the client) writes messages 1 and 3 and reads message 2; the responder (the
/// server) does the reverse. Each side learns the other's static public key during the handshake:
/// the initiator after reading message 2 (so a client can check the server's identity *before* it
/// reveals its own in message 3), the responder after reading message 3. After the third message,
/// ``split()`` yields the ``NoiseTransport``.
///
/// Ephemeral keys come from the ``RandomSource`` port, so a scripted source replays exact
/// handshakes in tests. Any failure aborts the handshake for good (spec section 5.3: a failed
/// `ReadMessage` must not be retried), and every later call throws ``NoiseError/handshakeAborted``.
public struct HandshakeState: Sendable {
    /// Which side of the handshake this state plays.
    public enum Role: Sendable, Equatable {
        /// Sends the first message (the client).
        case initiator
        /// Answers the first message (the server).
        case responder
    }

    /// What the handshake expects next.
    public enum NextAction: Sendable, Equatable {
        /// Call ``writeMessage(payload:)``.
        case writeMessage
        /// Call ``readMessage(_:)``.
        case readMessage
        /// The handshake is complete: call ``split()``.
        case split
        /// The handshake failed or was already split; it cannot continue.
        case aborted
    }

    private enum Token { case e, s, ee, es, se }

    /// The message patterns of `XX`, in order.
    private static let pattern: [[Token]] = [[.e], [.e, .ee, .s, .es], [.s, .se]]

    /// This side's role.
    public let role: Role
    private var symmetric: SymmetricState
    private let localStatic: X25519KeyPair
    private var localEphemeral: X25519KeyPair?
    /// The peer's static public key, once its handshake message carrying it has been read and
    /// authenticated; nil before that.
    public private(set) var remoteStaticKey: X25519PublicKey?
    private var remoteEphemeral: X25519PublicKey?
    private var messageIndex = 0
    private var failed = false
    private let crypto: any CryptoProvider
    private let random: any RandomSource

    /// Initialize(XX, initiator, prologue, s): a fresh handshake.
    ///
    /// - Parameters:
    ///   - role: initiator or responder.
    ///   - localStatic: this side's long-term X25519 key pair (`s`).
    ///   - prologue: bytes both sides must agree on; Parley uses ``NoiseProtocol/parleyPrologue``.
    ///   - crypto: the crypto port (X25519, ChaChaPoly, BLAKE2b).
    ///   - random: the source of the ephemeral key.
    /// - Throws: ``NoiseError/cryptoFailure(_:)`` if the port cannot hash.
    public init(
        role: Role,
        localStatic: X25519KeyPair,
        prologue: [UInt8] = NoiseProtocol.parleyPrologue,
        crypto: any CryptoProvider,
        random: any RandomSource
    ) throws(NoiseError) {
        self.role = role
        self.localStatic = localStatic
        self.crypto = crypto
        self.random = random
        symmetric = try SymmetricState(protocolName: NoiseProtocol.name, crypto: crypto)
        try symmetric.mixHash(prologue)
    }

    /// What the handshake expects next.
    public var nextAction: NextAction {
        if failed { return .aborted }
        if messageIndex == Self.pattern.count { return .split }
        let initiatorWrites = messageIndex % 2 == 0
        return initiatorWrites == (role == .initiator) ? .writeMessage : .readMessage
    }

    /// Whether all three messages have been processed.
    public var isComplete: Bool { nextAction == .split }

    /// The current handshake hash `h`. Once the handshake is complete it identifies the session and
    /// is the same on both sides (channel binding, spec section 11.2).
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }

    /// WriteMessage(payload): the next handshake message, at most 65535 bytes.
    ///
    /// Parley sends empty handshake payloads; a payload in message 1 would travel in clear.
    /// - Throws: ``NoiseError/outOfTurn(expected:)`` when the pattern expects a read,
    ///   ``NoiseError/messageTooLong(length:limit:)`` for an oversized result,
    ///   ``NoiseError/nonContributoryKeyAgreement`` for a small-order peer key,
    ///   ``NoiseError/handshakeAborted`` after an earlier failure.
    public mutating func writeMessage(payload: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        try expect(.writeMessage)
        do throws(NoiseError) {
            var message: [UInt8] = []
            for token in Self.pattern[messageIndex] {
                switch token {
                case .e:
                    let ephemeral: X25519KeyPair
                    do {
                        ephemeral = try crypto.generateX25519KeyPair(using: random)
                    } catch {
                        throw NoiseError.cryptoFailure(error)
                    }
                    localEphemeral = ephemeral
                    message += ephemeral.publicKey.bytes
                    try symmetric.mixHash(ephemeral.publicKey.bytes)
                case .s:
                    message += try symmetric.encryptAndHash(localStatic.publicKey.bytes)
                case .ee, .es, .se:
                    try mixDiffieHellman(token)
                }
            }
            message += try symmetric.encryptAndHash(payload)
            guard message.count <= NoiseProtocol.maxMessageLength else {
                throw NoiseError.messageTooLong(length: message.count, limit: NoiseProtocol.maxMessageLength)
            }
            messageIndex += 1
            return message
        } catch {
            failed = true
            throw error
        }
    }

    /// ReadMessage(message): processes the peer's next handshake message and returns its payload.
    ///
    /// - Throws: ``NoiseError/outOfTurn(expected:)`` when the pattern expects a write,
    ///   ``NoiseError/messageTooLong(length:limit:)``, ``NoiseError/messageTooShort(needed:got:)``
    ///   for a truncated message, ``NoiseError/decryptionFailed`` for a tampered message or a
    ///   different prologue, ``NoiseError/nonContributoryKeyAgreement`` for a small-order key,
    ///   ``NoiseError/handshakeAborted`` after an earlier failure.
    public mutating func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        try expect(.readMessage)
        do throws(NoiseError) {
            guard message.count <= NoiseProtocol.maxMessageLength else {
                throw NoiseError.messageTooLong(length: message.count, limit: NoiseProtocol.maxMessageLength)
            }
            var offset = 0
            func take(_ count: Int) throws(NoiseError) -> [UInt8] {
                guard message.count - offset >= count else {
                    throw NoiseError.messageTooShort(needed: offset + count, got: message.count)
                }
                defer { offset += count }
                return Array(message[offset..<offset + count])
            }
            for token in Self.pattern[messageIndex] {
                switch token {
                case .e:
                    let bytes = try take(NoiseProtocol.dhLength)
                    remoteEphemeral = try Self.publicKey(bytes)
                    try symmetric.mixHash(bytes)
                case .s:
                    let length = NoiseProtocol.dhLength + (symmetric.hasKey ? NoiseProtocol.tagLength : 0)
                    let plaintext = try symmetric.decryptAndHash(try take(length))
                    remoteStaticKey = try Self.publicKey(plaintext)
                case .ee, .es, .se:
                    try mixDiffieHellman(token)
                }
            }
            let payload = try symmetric.decryptAndHash(Array(message[offset...]))
            messageIndex += 1
            return payload
        } catch {
            failed = true
            throw error
        }
    }

    /// Split(): the transport once the handshake is complete. The handshake state is spent
    /// afterwards.
    /// - Throws: ``NoiseError/handshakeIncomplete`` before the last message,
    ///   ``NoiseError/handshakeAborted`` after a failure or a previous split.
    public mutating func split() throws(NoiseError) -> NoiseTransport {
        switch nextAction {
        case .split: break
        case .aborted: throw .handshakeAborted
        case .writeMessage, .readMessage: throw .handshakeIncomplete
        }
        // The remote static key is always set by then: both roles read an `s` token.
        guard let remoteStaticKey else { throw .handshakeIncomplete }
        let (initiatorToResponder, responderToInitiator) = try symmetric.split()
        failed = true  // spent: a second split would reuse the keys
        localEphemeral = nil
        switch role {
        case .initiator:
            return NoiseTransport(
                sender: initiatorToResponder, receiver: responderToInitiator,
                remoteStaticKey: remoteStaticKey, handshakeHash: symmetric.handshakeHash)
        case .responder:
            return NoiseTransport(
                sender: responderToInitiator, receiver: initiatorToResponder,
                remoteStaticKey: remoteStaticKey, handshakeHash: symmetric.handshakeHash)
        }
    }

    // MARK: - Tokens

    private func expect(_ action: NextAction) throws(NoiseError) {
        let next = nextAction
        if next == .aborted { throw .handshakeAborted }
        guard next == action else { throw .outOfTurn(expected: next) }
    }

    /// ee, es, se: MixKey(DH(...)) with the key pair and public key the token names for this role.
    private mutating func mixDiffieHellman(_ token: Token) throws(NoiseError) {
        let isInitiator = role == .initiator
        let localSecret: X25519SecretKey?
        let remotePublic: X25519PublicKey?
        switch token {
        case .ee:
            (localSecret, remotePublic) = (localEphemeral?.secretKey, remoteEphemeral)
        case .es:
            (localSecret, remotePublic) = isInitiator
                ? (localEphemeral?.secretKey, remoteStaticKey)
                : (localStatic.secretKey, remoteEphemeral)
        case .se:
            (localSecret, remotePublic) = isInitiator
                ? (localStatic.secretKey, remoteEphemeral)
                : (localEphemeral?.secretKey, remoteStaticKey)
        case .e, .s:
            return
        }
        // The XX pattern always provides both keys before a DH token; guard rather than unwrap.
        guard let localSecret, let remotePublic else { throw .handshakeAborted }
        let shared: SecretBytes
        do {
            shared = try crypto.x25519(localSecret, remotePublic)
        } catch CryptoError.nonContributoryKeyAgreement {
            throw .nonContributoryKeyAgreement
        } catch {
            throw .cryptoFailure(error)
        }
        try symmetric.mixKey(shared)
    }

    private static func publicKey(_ bytes: [UInt8]) throws(NoiseError) -> X25519PublicKey {
        do {
            return try X25519PublicKey(bytes: bytes)
        } catch {
            throw .cryptoFailure(error)
        }
    }
}
