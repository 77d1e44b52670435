import Foundation
import Logging
import Prekeys
import Primitives
import SodiumCrypto
import TCPTransport
import WireProtocol

/// The crypto adapters and key material every integration test needs, in one small value.
struct IntegrationEnvironment: Sendable {
    let crypto: SodiumCryptoProvider
    let random: SodiumRandomSource

    init() throws {
        crypto = try SodiumCryptoProvider()
        random = try SodiumRandomSource()
    }

    func keyPair() throws -> X25519KeyPair {
        try crypto.generateX25519KeyPair(using: random)
    }

    /// A client transport with a fresh static key, as a new device would have.
    func clientTransport() throws -> NIOClientTransport {
        NIOClientTransport(localStatic: try keyPair(), crypto: crypto, random: random, logger: .quiet)
    }

    /// A new account's credentials and public prekeys: what a client publishes at registration.
    func account(_ name: String, password: String = "correct horse battery staple") throws -> TestAccount {
        let identity = try crypto.generateEd25519KeyPair(using: random)
        let signedKey = try crypto.generateX25519KeyPair(using: random)
        let signedID: UInt32 = 1
        let signature = try crypto.sign(SignedPrekey.signedMessage(id: signedID, publicKey: signedKey.publicKey), with: identity.secretKey)
        let oneTime = try (1...5).map { id in OneTimePrekey(id: UInt32(id), publicKey: try keyPair().publicKey) }
        let username = try Username(name)
        return TestAccount(
            username: username, password: password, identityKey: identity.publicKey,
            identitySignature: try IdentityBinding.sign(username: username, with: identity, crypto: crypto),
            signedPrekey: SignedPrekey(id: signedID, publicKey: signedKey.publicKey, signature: signature),
            oneTimePrekeys: oneTime)
    }
}

/// One account as the tests drive it at the wire level (no client application in between).
struct TestAccount: Sendable {
    let username: Username
    let password: String
    let identityKey: Ed25519PublicKey
    /// The identity key's signature over the username (``IdentityBinding``).
    let identitySignature: Ed25519Signature
    let signedPrekey: SignedPrekey
    let oneTimePrekeys: [OneTimePrekey]

    var register: Request.Body {
        .register(
            username: username, password: secret(password), identityKey: identityKey, identitySignature: identitySignature,
            signedPrekey: signedPrekey, oneTimePrekeys: oneTimePrekeys)
    }

    var login: Request.Body { login(password: password) }

    func login(password: String) -> Request.Body {
        .login(username: username, password: secret(password))
    }

    var deleteAccount: Request.Body { .deleteAccount(password: secret(password)) }

    /// A send of `payload` to this account, naming its identity key as a real client would.
    func envelope(_ payload: [UInt8]) -> Request.Body {
        .send(recipient: username, recipientIdentity: identityKey, envelope: payload)
    }

    private func secret(_ text: String) -> SecretBytes { SecretBytes(copying: Array(text.utf8)) }
}

extension Logger {
    /// The servers and transports under test log nothing into the test output.
    static let quiet = Logger(label: "parley.itest", factory: { _ in SwiftLogNoOpLogHandler() })
}

/// An 8-byte big-endian counter: a unique, comparable payload (envelopes are opaque to the server).
func counterPayload(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
}

/// The counter in a ``counterPayload(_:)``, or nil for any other payload.
func counter(in payload: [UInt8]) -> UInt64? {
    guard payload.count == 8 else { return nil }
    return payload.reduce(0) { $0 << 8 | UInt64($1) }
}
