import Envelope
import Prekeys
import Primitives

/// Starts sessions and encrypts and decrypts messages within them: the PQXDH handshake feeding the
/// Double Ratchet, and the envelope encoding around both. No new session is ever set up with
/// classical X3DH alone, in either direction.
///
/// Pure: it reads and changes nothing but its arguments; what must be stored (the changed session
/// record, a one-time prekey to erase) comes back as a value for the caller to apply in one
/// transaction (``Inbound``).
public struct SessionCipher: Sendable {
    private let crypto: any CryptoProvider
    private let kem: any KEMProvider
    private let random: any RandomSource

    public init(crypto: any CryptoProvider, kem: any KEMProvider, random: any RandomSource) {
        self.crypto = crypto
        self.kem = kem
        self.random = random
    }

    /// Alice starts a session with Bob from his verified bundle (which always has an ML-KEM
    /// prekey). Her messages carry the PQXDH prelude until Bob answers. Both usernames go into the
    /// session's associated data.
    public func startSession(
        with bundle: VerifiedPrekeyBundle, peer: Username, localUsername: Username, localIdentity: Ed25519KeyPair
    ) throws(CryptoError) -> Session {
        let ephemeral = try crypto.generateX25519KeyPair(using: random)
        return try startSession(with: bundle, peer: peer, localUsername: localUsername, localIdentity: localIdentity, ephemeral: ephemeral)
    }

    /// ``startSession(with:peer:localUsername:localIdentity:)`` with a given ephemeral key and,
    /// optionally, a given encapsulation (for known-answer tests).
    public func startSession(
        with bundle: VerifiedPrekeyBundle, peer: Username, localUsername: Username, localIdentity: Ed25519KeyPair, ephemeral: X25519KeyPair,
        encapsulation: (ciphertext: MLKEMCiphertext, sharedSecret: SecretBytes)? = nil
    ) throws(CryptoError) -> Session {
        let pqxdh = PQXDH(crypto: crypto, kem: kem)
        let initiation: PQXDH.Initiation
        if let encapsulation {
            initiation = try pqxdh.initiate(
                localUsername: localUsername, localIdentity: localIdentity, ephemeral: ephemeral, peer: peer, bundle: bundle,
                encapsulation: encapsulation)
        } else {
            initiation = try pqxdh.initiate(localUsername: localUsername, localIdentity: localIdentity, ephemeral: ephemeral, peer: peer, bundle: bundle)
        }
        let agreement = initiation.agreement
        let ratchet = try DoubleRatchet.initiator(
            sharedSecret: agreement.sharedSecret, associatedData: agreement.associatedData,
            remoteRatchetKey: bundle.signedPrekey.publicKey, crypto: crypto, random: random)
        let prelude = PrekeyPrelude(
            identityKey: localIdentity.publicKey, ephemeralKey: ephemeral.publicKey,
            signedPrekeyID: bundle.signedPrekey.id, oneTimePrekeyID: bundle.oneTimePrekey?.id, kem: initiation.kemPrelude)
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
        /// The record to save: the session that decrypted is now its current one.
        public let record: SessionRecord
        /// The session the envelope decrypted in (new, or an existing one advanced).
        public var session: Session { record.current! }
        public let content: MessageContent
        /// True when this envelope started a new session (the peer ran X3DH afresh).
        public let startedNewSession: Bool
        /// The one-time prekey whose secret must now be erased, if the envelope used one.
        public let oneTimePrekeyToErase: UInt32?
        /// The one-time ML-KEM prekey whose secret must now be erased, if the envelope used one
        /// (a last-resort one is kept).
        public var kemPrekeyToErase: UInt32? = nil
    }

    /// The responder's prekey secrets a prekey message may name, read by the caller from its
    /// ``LocalKeyStore`` (so a storage failure stays the caller's storage error, never a
    /// decryption error).
    public struct ResponderPrekeys: Sendable {
        public let signedPrekeys: [SignedPrekeyPair]
        /// The one-time prekey the prelude names, if this device still holds it.
        public let oneTimePrekey: OneTimePrekeyPair?
        /// The ML-KEM prekey the prelude names, if this device still holds it.
        public let kemPrekey: KEMPrekeyPair?

        public init(signedPrekeys: [SignedPrekeyPair], oneTimePrekey: OneTimePrekeyPair?, kemPrekey: KEMPrekeyPair? = nil) {
            self.signedPrekeys = signedPrekeys
            self.oneTimePrekey = oneTimePrekey
            self.kemPrekey = kemPrekey
        }
    }

    /// Decrypts an envelope from `sender` within `record`.
    ///
    /// A prekey message (one with an X3DH prelude) decrypts in the held session with its base key
    /// if there is one, else starts a new session from the prelude, archiving the current one. A
    /// plain message is tried in the current session, then in each previous one; the session it
    /// decrypts in becomes current (so two sides that started sessions at once converge).
    /// - Parameters:
    ///   - sender: the sender's username as the server delivered it; a new session's associated
    ///     data holds it, so a message relayed under another name does not decrypt.
    ///   - localUsername: this account's name (also in a new session's associated data).
    ///   - prekeys: the local prekeys, needed only when `envelope` carries a prelude.
    /// - Throws: ``DecryptionError``; nothing is changed on failure. When no session can read a
    ///   plain message, the current session's error (or ``DecryptionError/noSession``).
    public func decrypt(
        _ envelope: CiphertextEnvelope, from sender: Username, record: SessionRecord?,
        localUsername: Username, localIdentity: Ed25519KeyPair, prekeys: ResponderPrekeys?
    ) throws(DecryptionError) -> Inbound {
        var record = record ?? SessionRecord(peer: sender)
        if let prelude = envelope.prelude {
            if var session = record.session(withBaseKey: prelude.ephemeralKey) {
                let content = try decrypt(envelope, in: &session)
                record.promote(session)
                return Inbound(record: record, content: content, startedNewSession: false, oneTimePrekeyToErase: nil)
            }
            let (session, content, kemPrekey) = try acceptSession(
                envelope, prelude: prelude, from: sender, localUsername: localUsername, localIdentity: localIdentity, prekeys: prekeys)
            record.promote(session)
            return Inbound(
                record: record, content: content, startedNewSession: true, oneTimePrekeyToErase: prelude.oneTimePrekeyID,
                kemPrekeyToErase: kemPrekey.isLastResort ? nil : kemPrekey.id)
        }
        var firstError: DecryptionError?
        for candidate in record.sessions {
            var session = candidate
            do throws(DecryptionError) {
                let content = try decrypt(envelope, in: &session)
                // A message without a prelude proves the peer holds the session: stop sending ours.
                session.pendingPrelude = nil
                record.promote(session)
                return Inbound(record: record, content: content, startedNewSession: false, oneTimePrekeyToErase: nil)
            } catch {
                // A replay is recognised by the session it belongs to: no other session can read it.
                if case .duplicateMessage = error { throw error }
                firstError = firstError ?? error
            }
        }
        throw firstError ?? .noSession
    }

    private func decrypt(_ envelope: CiphertextEnvelope, in session: inout Session) throws(DecryptionError) -> MessageContent {
        var ratchet = session.ratchet
        let plaintext = try ratchet.decrypt(header: envelope.header, ciphertext: envelope.ciphertext, crypto: crypto, random: random)
        let content = try decode(plaintext)
        session.ratchet = ratchet
        return content
    }

    private func acceptSession(
        _ envelope: CiphertextEnvelope, prelude: PrekeyPrelude, from sender: Username,
        localUsername: Username, localIdentity: Ed25519KeyPair, prekeys: ResponderPrekeys?
    ) throws(DecryptionError) -> (Session, MessageContent, KEMPrekeyPair) {
        // No downgrade: a prelude without an ML-KEM encapsulation never starts a session (it is
        // read only within a session it already belongs to, above).
        guard let kemPrelude = prelude.kem else { throw .classicalSessionRefused }
        let signedPrekey = prekeys?.signedPrekeys.first { $0.id == prelude.signedPrekeyID }
        let oneTimePrekey = prekeys?.oneTimePrekey.flatMap { $0.id == prelude.oneTimePrekeyID ? $0 : nil }
        guard let signedPrekey, prelude.oneTimePrekeyID == nil || oneTimePrekey != nil else {
            throw .unknownPrekey(signedPrekeyID: prelude.signedPrekeyID, oneTimePrekeyID: prelude.oneTimePrekeyID)
        }
        guard let kemPrekey = prekeys?.kemPrekey, kemPrekey.id == kemPrelude.prekeyID else {
            throw .unknownKEMPrekey(id: kemPrelude.prekeyID)
        }
        let agreement: X3DH.Agreement
        do {
            agreement = try PQXDH(crypto: crypto, kem: kem).respond(
                localUsername: localUsername, localIdentity: localIdentity, signedPrekey: signedPrekey.keyPair,
                oneTimePrekey: oneTimePrekey?.keyPair, kemPrekey: kemPrekey.keyPair.secretKey, kemCiphertext: kemPrelude.ciphertext,
                remoteUsername: sender, remoteIdentity: prelude.identityKey, remoteEphemeral: prelude.ephemeralKey)
        } catch {
            throw .crypto(error)
        }
        var ratchet = DoubleRatchet.responder(sharedSecret: agreement.sharedSecret, associatedData: agreement.associatedData, ownRatchetKey: signedPrekey.keyPair)
        let plaintext = try ratchet.decrypt(header: envelope.header, ciphertext: envelope.ciphertext, crypto: crypto, random: random)
        let content = try decode(plaintext)
        let session = Session(
            peer: sender, peerIdentityKey: prelude.identityKey, localIdentityKey: localIdentity.publicKey,
            baseKey: prelude.ephemeralKey, pendingPrelude: nil, ratchet: ratchet)
        return (session, content, kemPrekey)
    }

    private func decode(_ plaintext: [UInt8]) throws(DecryptionError) -> MessageContent {
        do { return try MessageContent(decoding: plaintext) } catch { throw .malformed(error) }
    }
}
