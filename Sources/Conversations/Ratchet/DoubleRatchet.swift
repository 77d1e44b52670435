import Envelope
import Primitives

/// The Double Ratchet (signal.org/docs/specifications/doubleratchet) with the Parley v1 KDFs.
///
/// A value type: every operation works on a copy and replaces `self` only when it succeeds, so a
/// message that fails to decrypt leaves the state exactly as it was.
public struct DoubleRatchet: Sendable, Equatable {
    var rootKey: RootKey
    var sendingRatchetKey: X25519KeyPair
    var remoteRatchetKey: X25519PublicKey?
    var sendingChain: ChainKey?
    var receivingChain: ChainKey?
    var sendingCount: UInt32 = 0
    var receivingCount: UInt32 = 0
    var previousSendingCount: UInt32 = 0
    var skipped = SkippedMessageKeys()
    /// The X3DH associated data, IK_A || IK_B || len(name_A) || name_A || len(name_B) || name_B,
    /// bound into every message. Kept in the state, so a session made by an earlier build (whose
    /// AD was IK_A || IK_B) goes on using the AD it was made with.
    public let associatedData: [UInt8]

    /// The initiator's state (Alice): she knows Bob's initial ratchet key (his signed prekey) and
    /// performs the first DH ratchet step at once, so she can send before hearing from him.
    public static func initiator(
        sharedSecret: SecretBytes, associatedData: [UInt8], remoteRatchetKey: X25519PublicKey,
        crypto: any CryptoProvider, random: any RandomSource
    ) throws(CryptoError) -> DoubleRatchet {
        let ownKey = try crypto.generateX25519KeyPair(using: random)
        let kdf = RatchetKDF(crypto: crypto)
        let (rootKey, sendingChain) = try kdf.rootStep(RootKey(secret: sharedSecret), dhOutput: crypto.x25519(ownKey.secretKey, remoteRatchetKey))
        return DoubleRatchet(
            rootKey: rootKey, sendingRatchetKey: ownKey, remoteRatchetKey: remoteRatchetKey,
            sendingChain: sendingChain, receivingChain: nil, associatedData: associatedData)
    }

    /// The responder's state (Bob): his ratchet key is his signed prekey; he can send once the
    /// first message has arrived.
    public static func responder(sharedSecret: SecretBytes, associatedData: [UInt8], ownRatchetKey: X25519KeyPair) -> DoubleRatchet {
        DoubleRatchet(
            rootKey: RootKey(secret: sharedSecret), sendingRatchetKey: ownRatchetKey, remoteRatchetKey: nil,
            sendingChain: nil, receivingChain: nil, associatedData: associatedData)
    }

    /// Whether this side can send yet (a responder must first receive).
    public var canSend: Bool { sendingChain != nil }

    /// How many skipped message keys are held.
    public var skippedMessageKeyCount: Int { skipped.count }

    /// Pads and encrypts `plaintext`, advancing the sending chain.
    /// - Throws: ``DecryptionError/noSendingChain`` before a responder has received;
    ///   ``DecryptionError/crypto(_:)`` if the chain is exhausted.
    public mutating func encrypt(_ plaintext: [UInt8], crypto: any CryptoProvider) throws(DecryptionError) -> (header: RatchetHeader, ciphertext: [UInt8]) {
        guard let chain = sendingChain else { throw .noSendingChain }
        guard sendingCount < UInt32.max else { throw .chainExhausted }
        let kdf = RatchetKDF(crypto: crypto)
        let (nextChain, messageKey) = kdf.chainStep(chain)
        let header = RatchetHeader(ratchetKey: sendingRatchetKey.publicKey, previousChainLength: previousSendingCount, messageNumber: sendingCount)
        do {
            let keyAndNonce = try kdf.messageKeyAndNonce(messageKey)
            let padded = Padding.pad(plaintext)
            let ciphertext = try Self.withMessageAssociatedData(associatedData, header: header) { (ad) throws(CryptoError) in
                try crypto.xChaCha20Poly1305Seal(padded, associatedData: ad, keyAndNonce: keyAndNonce)
            }
            sendingChain = nextChain
            sendingCount += 1
            return (header, ciphertext)
        } catch {
            throw .crypto(error)
        }
    }

    /// Calls `body` with the AEAD associated data of a message, AD || header encoding
    /// (``RatchetHeader/encoded``: ratchet key || PN (u32 BE) || N (u32 BE)), built in one
    /// temporary buffer (on the stack when small) instead of two arrays.
    static func withMessageAssociatedData<R>(
        _ associatedData: [UInt8], header: RatchetHeader, _ body: (UnsafeRawBufferPointer) throws(CryptoError) -> R
    ) throws(CryptoError) -> R {
        // Counted from the parts, so the buffer always fits what is written.
        let total = associatedData.count + header.ratchetKey.bytes.count + 2 * MemoryLayout<UInt32>.size
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: total) { (buffer) throws(CryptoError) -> R in
            var offset = 0
            func append(_ bytes: UnsafeRawBufferPointer) {
                if let base = bytes.baseAddress, !bytes.isEmpty {
                    UnsafeMutableRawPointer(buffer.baseAddress! + offset).copyMemory(from: base, byteCount: bytes.count)
                }
                offset += bytes.count
            }
            func append(bigEndian value: UInt32) {
                withUnsafeBytes(of: value.bigEndian) { append($0) }
            }
            associatedData.withUnsafeBytes { append($0) }
            header.ratchetKey.bytes.withUnsafeBytes { append($0) }
            append(bigEndian: header.previousChainLength)
            append(bigEndian: header.messageNumber)
            return try body(UnsafeRawBufferPointer(start: buffer.baseAddress, count: total))
        }
    }

    /// Decrypts a message, performing a DH ratchet step when the header carries a new ratchet key
    /// and keeping the keys of skipped messages. On any failure `self` is unchanged.
    public mutating func decrypt(
        header: RatchetHeader, ciphertext: [UInt8], crypto: any CryptoProvider, random: any RandomSource
    ) throws(DecryptionError) -> [UInt8] {
        // The common case, the next message of the current receiving chain (no skipped keys to
        // use or store, no DH step): derive, open, and only then advance the chain.
        if header.ratchetKey == remoteRatchetKey, header.messageNumber == receivingCount, skipped.isEmpty,
            let chain = receivingChain
        {
            let kdf = RatchetKDF(crypto: crypto)
            let (nextChain, messageKey) = kdf.chainStep(chain)
            let plaintext = try open(ciphertext, header: header, messageKey: messageKey, kdf: kdf)
            receivingChain = nextChain
            receivingCount += 1
            return plaintext
        }
        var next = self
        let plaintext = try next.decryptInPlace(header: header, ciphertext: ciphertext, crypto: crypto, random: random)
        self = next
        return plaintext
    }

    private mutating func decryptInPlace(
        header: RatchetHeader, ciphertext: [UInt8], crypto: any CryptoProvider, random: any RandomSource
    ) throws(DecryptionError) -> [UInt8] {
        let kdf = RatchetKDF(crypto: crypto)
        let slot = SkippedMessageKeys.Slot(ratchetKey: header.ratchetKey, messageNumber: header.messageNumber)
        if let messageKey = skipped.take(slot) {
            return try open(ciphertext, header: header, messageKey: messageKey, kdf: kdf)
        }
        if header.ratchetKey != remoteRatchetKey {
            try skipMessageKeys(until: header.previousChainLength, kdf: kdf)
            do {
                try ratchetStep(remoteKey: header.ratchetKey, kdf: kdf, random: random)
            } catch {
                throw .crypto(error)
            }
        } else if header.messageNumber < receivingCount {
            // Already decrypted (its key is gone) or evicted long ago: a replay.
            throw .duplicateMessage(messageNumber: header.messageNumber)
        }
        try skipMessageKeys(until: header.messageNumber, kdf: kdf)
        guard let chain = receivingChain else { throw .authenticationFailed }
        let (nextChain, messageKey) = kdf.chainStep(chain)
        receivingChain = nextChain
        receivingCount += 1
        return try open(ciphertext, header: header, messageKey: messageKey, kdf: kdf)
    }

    private func open(_ ciphertext: [UInt8], header: RatchetHeader, messageKey: MessageKey, kdf: RatchetKDF) throws(DecryptionError) -> [UInt8] {
        do {
            let keyAndNonce = try kdf.messageKeyAndNonce(messageKey)
            let padded = try Self.withMessageAssociatedData(associatedData, header: header) { (ad) throws(CryptoError) in
                try kdf.crypto.xChaCha20Poly1305Open(ciphertext, associatedData: ad, keyAndNonce: keyAndNonce)
            }
            // A bad padding after a valid tag is as suspicious as a bad tag; say the same thing.
            guard let plaintext = Padding.unpad(padded) else { throw DecryptionError.authenticationFailed }
            return plaintext
        } catch let error as DecryptionError {
            throw error
        } catch {
            throw .authenticationFailed
        }
    }

    private mutating func skipMessageKeys(until end: UInt32, kdf: RatchetKDF) throws(DecryptionError) {
        guard var chain = receivingChain else { return }
        guard UInt64(end) <= UInt64(receivingCount) + UInt64(ConversationLimits.maxSkip) else {
            throw .tooManySkippedMessages(requested: end - receivingCount, limit: ConversationLimits.maxSkip)
        }
        guard let remote = remoteRatchetKey else { return }
        while receivingCount < end {
            let (nextChain, messageKey) = kdf.chainStep(chain)
            skipped.insert(messageKey, for: .init(ratchetKey: remote, messageNumber: receivingCount))
            chain = nextChain
            receivingCount += 1
        }
        receivingChain = chain
    }

    private mutating func ratchetStep(remoteKey: X25519PublicKey, kdf: RatchetKDF, random: any RandomSource) throws(CryptoError) {
        previousSendingCount = sendingCount
        sendingCount = 0
        receivingCount = 0
        remoteRatchetKey = remoteKey
        let (rootAfterReceive, newReceivingChain) = try kdf.rootStep(rootKey, dhOutput: kdf.crypto.x25519(sendingRatchetKey.secretKey, remoteKey))
        receivingChain = newReceivingChain
        sendingRatchetKey = try kdf.crypto.generateX25519KeyPair(using: random)
        let (rootAfterSend, newSendingChain) = try kdf.rootStep(rootAfterReceive, dhOutput: kdf.crypto.x25519(sendingRatchetKey.secretKey, remoteKey))
        rootKey = rootAfterSend
        sendingChain = newSendingChain
    }
}
