import Envelope
import Prekeys
import Primitives

/// Starts sessions and encrypts and decrypts messages within them: the X3DH handshake feeding the
/// Double Ratchet, and the envelope encoding around both.
///
/// Pure: it reads the local keys through the ``LocalKeyStore`` port but changes nothing; what must
/// be stored (the new session state, a one-time prekey to erase) comes back as a value for the
/// caller to apply in one transaction.
public struct SessionCipher: Sendable {
    private let crypto: any CryptoProvider
    private let random: any RandomSource

    public init(crypto: any CryptoProvider, random: any RandomSource) {
        self.crypto = crypto
        self.random = random
    }

    /// Alice starts a session with Bob from his verified bundle. Her messages carry the X3DH
    /// prelude until Bob answers.
    public func startSession(with bundle: VerifiedPrekeyBundle, peer: Username, localIdentity: Ed25519KeyPair) throws(CryptoError) -> Session {
        let ephemeral = try crypto.generateX25519KeyPair(using: random)
        return try startSession(with: bundle, peer: peer, localIdentity: localIdentity, ephemeral: ephemeral)
    }

    /// ``startSession(with:peer:localIdentity:)`` with a given ephemeral key (for known-answer tests).
    public func startSession(with bundle: VerifiedPrekeyBundle, peer: Username, localIdentity: Ed25519KeyPair, ephemeral: X25519KeyPair) throws(CryptoError) -> Session {
        let agreement = try X3DH(crypto: crypto).initiate(localIdentity: localIdentity, ephemeral: ephemeral, bundle: bundle)
        let ratchet = try DoubleRatchet.initiator(
            sharedSecret: agreement.sharedSecret, associatedData: agreement.associatedData,
            remoteRatchetKey: bundle.signedPrekey.publicKey, crypto: crypto, random: random)
        let prelude = PrekeyPrelude(
            identityKey: localIdentity.publicKey, ephemeralKey: ephemeral.publicKey,
            signedPrekeyID: bundle.signedPrekey.id, oneTimePrekeyID: bundle.oneTimePrekey?.id)
        return Session(
            peer: peer, peerIdentityKey: bundle.identityKey, localIdentityKey: localIdentity.publicKey,
            baseKey: ephemeral.publicKey, pendingPrelude: prelude, ratchet: ratchet)
    }

    /// Encrypts `content` in `session`, advancing its sending chain.
    public func encrypt(_ content: MessageContent, in session: inout Session) throws(DecryptionError) -> CiphertextEnvelope {
        let (header, ciphertext) = try session.ratchet.encrypt(content.encoded, crypto: crypto)
        return CiphertextEnvelope(prelude: session.pendingPrelude, header: header, ciphertext: ciphertext)
    }

    /// What decrypting an incoming envelope produced, for the caller to store atomically.
    public struct Inbound: Sendable {
        /// The session state to save (new, or the existing one advanced).
        public let session: Session
        public let content: MessageContent
        /// True when this envelope started a new session (the peer ran X3DH afresh).
        public let startedNewSession: Bool
        /// The one-time prekey whose secret must now be erased, if the envelope used one.
        public let oneTimePrekeyToErase: UInt32?
    }

    /// Decrypts an envelope from `sender`, within `existing` when it belongs to it, else by
    /// accepting a new session from its X3DH prelude.
    /// - Throws: ``DecryptionError``; nothing is changed on failure.
    public func decrypt(
        _ envelope: CiphertextEnvelope, from sender: Username, existing: Session?,
        localIdentity: Ed25519KeyPair, keys: any LocalKeyStore
    ) throws(DecryptionError) -> Inbound {
        if var session = existing, envelope.prelude == nil || envelope.prelude?.ephemeralKey == session.baseKey {
            let plaintext = try session.ratchet.decrypt(header: envelope.header, ciphertext: envelope.ciphertext, crypto: crypto, random: random)
            let content = try decode(plaintext)
            // A message without a prelude proves the peer holds the session: stop sending ours.
            if envelope.prelude == nil { session.pendingPrelude = nil }
            return Inbound(session: session, content: content, startedNewSession: false, oneTimePrekeyToErase: nil)
        }
        guard let prelude = envelope.prelude else { throw .noSession }
        return try acceptSession(envelope, prelude: prelude, from: sender, localIdentity: localIdentity, keys: keys)
    }

    private func acceptSession(
        _ envelope: CiphertextEnvelope, prelude: PrekeyPrelude, from sender: Username,
        localIdentity: Ed25519KeyPair, keys: any LocalKeyStore
    ) throws(DecryptionError) -> Inbound {
        let signedPrekey: SignedPrekeyPair?
        let oneTimePrekey: OneTimePrekeyPair?
        do {
            signedPrekey = try keys.signedPrekeyPairs().first { $0.id == prelude.signedPrekeyID }
            oneTimePrekey = try prelude.oneTimePrekeyID.flatMap { try keys.oneTimePrekeyPair(id: $0) }
        } catch {
            throw .unknownPrekey(signedPrekeyID: prelude.signedPrekeyID, oneTimePrekeyID: prelude.oneTimePrekeyID)
        }
        guard let signedPrekey, prelude.oneTimePrekeyID == nil || oneTimePrekey != nil else {
            throw .unknownPrekey(signedPrekeyID: prelude.signedPrekeyID, oneTimePrekeyID: prelude.oneTimePrekeyID)
        }
        let agreement: X3DH.Agreement
        do {
            agreement = try X3DH(crypto: crypto).respond(
                localIdentity: localIdentity, signedPrekey: signedPrekey.keyPair, oneTimePrekey: oneTimePrekey?.keyPair,
                remoteIdentity: prelude.identityKey, remoteEphemeral: prelude.ephemeralKey)
        } catch {
            throw .crypto(error)
        }
        var ratchet = DoubleRatchet.responder(sharedSecret: agreement.sharedSecret, associatedData: agreement.associatedData, ownRatchetKey: signedPrekey.keyPair)
        let plaintext = try ratchet.decrypt(header: envelope.header, ciphertext: envelope.ciphertext, crypto: crypto, random: random)
        let content = try decode(plaintext)
        let session = Session(
            peer: sender, peerIdentityKey: prelude.identityKey, localIdentityKey: localIdentity.publicKey,
            baseKey: prelude.ephemeralKey, pendingPrelude: nil, ratchet: ratchet)
        return Inbound(session: session, content: content, startedNewSession: true, oneTimePrekeyToErase: prelude.oneTimePrekeyID)
    }

    private func decode(_ plaintext: [UInt8]) throws(DecryptionError) -> MessageContent {
        do { return try MessageContent(decoding: plaintext) } catch { throw .malformed(error) }
    }
}
