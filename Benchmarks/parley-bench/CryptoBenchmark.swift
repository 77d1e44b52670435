import CSodium
import Foundation
import Conversations
import Envelope
import Primitives
import SodiumCrypto

/// Benchmark 1: the crypto port's libsodium adapter against libsodium called directly, operation
/// by operation, and the Double Ratchet against the raw cost of what it must compute.
///
/// Each case runs `rounds` rounds of the Parley call and of the raw baseline, alternating, in this
/// process; a round is calibrated to last about `roundTarget`. Reported: the median ns per call of
/// each and ratio = parley / raw (target <= 1.2).
struct CryptoBenchmark {
    let rounds: Int
    let roundTarget: Duration

    struct Case {
        let name: String
        let parley: () -> Void
        let raw: () -> Void
        /// Whether the <= 1.2 target applies (it does to the primitives; the ratchet rows are
        /// informative comparisons against part of its work).
        let targeted: Bool
    }

    struct Row {
        let name: String
        let parleyNanoseconds: Double
        let rawNanoseconds: Double
        let targeted: Bool
        /// Every round's ns per call, parley and raw.
        var parleySamples: [Double] = []
        var rawSamples: [Double] = []
        var ratio: Double { parleyNanoseconds / rawNanoseconds }
    }

    func run() throws -> [Row] {
        Report.heading("1. crypto: SodiumCryptoProvider vs raw libsodium (ns per call, median of \(rounds) rounds)")
        let cases = try makeCases()
        var rows: [Row] = []
        emit(Report.pad("operation", 44) + Report.padLeft("parley ns", 12) + Report.padLeft("raw ns", 12) + Report.padLeft("ratio", 8) + "  target")
        for item in cases {
            let parleyIterations = Measurement.calibrate(target: roundTarget, item.parley)
            let rawIterations = Measurement.calibrate(target: roundTarget, item.raw)
            var parley: [Double] = []
            var raw: [Double] = []
            for _ in 0..<rounds {
                parley.append(Measurement.nanosecondsPerCall(iterations: parleyIterations, item.parley))
                raw.append(Measurement.nanosecondsPerCall(iterations: rawIterations, item.raw))
            }
            let row = Row(
                name: item.name, parleyNanoseconds: Measurement.median(parley), rawNanoseconds: Measurement.median(raw), targeted: item.targeted,
                parleySamples: parley, rawSamples: raw)
            rows.append(row)
            let verdict = row.targeted ? (row.ratio <= 1.2 ? "met" : "MISSED") : "(info)"
            emit(Report.pad(row.name, 44) + Report.padLeft(Report.fixed(row.parleyNanoseconds, 0), 12)
                + Report.padLeft(Report.fixed(row.rawNanoseconds, 0), 12) + Report.padLeft(Report.fixed(row.ratio, 2), 8) + "  " + verdict)
        }
        return rows
    }

    // MARK: The cases

    private func makeCases() throws -> [Case] {
        let crypto: any CryptoProvider = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        let raw = RawSodium()

        let key = try SymmetricKey(random.secret(count: 32))
        let rawKey = key.secret.unsafeExportBytes()
        let nonce = random.bytes(count: 24)
        let associatedData = random.bytes(count: 104)  // IK_A || IK_B || ratchet header, as a message uses
        var cases: [Case] = []

        for size in [256, 16 << 10] {
            let label = size < 1024 ? "\(size) B" : "\(size >> 10) KiB"
            let plaintext = random.bytes(count: size)
            let sealed = try crypto.xChaCha20Poly1305Seal(plaintext, associatedData: associatedData, nonce: nonce, key: key)
            let rawOut = RawBuffer(count: size + 16)
            cases.append(Case(
                name: "XChaCha20-Poly1305 seal \(label)",
                parley: { blackHole(must { try crypto.xChaCha20Poly1305Seal(plaintext, associatedData: associatedData, nonce: nonce, key: key) }) },
                raw: { raw.seal(plaintext, associatedData: associatedData, nonce: nonce, key: rawKey, into: rawOut) },
                targeted: true))
            cases.append(Case(
                name: "XChaCha20-Poly1305 open \(label)",
                parley: { blackHole(must { try crypto.xChaCha20Poly1305Open(sealed, associatedData: associatedData, nonce: nonce, key: key) }) },
                raw: { precondition(raw.open(sealed, associatedData: associatedData, nonce: nonce, key: rawKey, into: rawOut)) },
                targeted: true))
        }

        let ours = try crypto.generateX25519KeyPair(using: random)
        let theirs = try crypto.generateX25519KeyPair(using: random)
        let rawSecret = ours.secretKey.secret.unsafeExportBytes()
        let sharedOut = RawBuffer(count: 32)
        cases.append(Case(
            name: "X25519 DH",
            parley: { blackHole(must { try crypto.x25519(ours.secretKey, theirs.publicKey) }) },
            raw: { precondition(crypto_scalarmult(sharedOut.pointer, rawSecret, theirs.publicKey.bytes) == 0) },
            targeted: true))

        // HKDF as the ratchet's root step uses it: 32-byte salt and IKM, 17-byte info, 64 bytes out.
        let salt = random.bytes(count: 32)
        let inputKeyMaterial = random.secret(count: 32)
        let rawInput = inputKeyMaterial.unsafeExportBytes()
        let info = Array("Parley Ratchet v1".utf8)
        let hkdfOut = RawBuffer(count: 64)
        let expected = try crypto.hkdfSHA256(salt: salt, inputKeyMaterial: inputKeyMaterial, info: info, length: 64).unsafeExportBytes()
        raw.hkdf(salt: salt, inputKeyMaterial: rawInput, info: info, into: hkdfOut)
        precondition(Array(hkdfOut.bytes) == expected, "the raw HKDF baseline disagrees with the adapter")
        cases.append(Case(
            name: "HKDF-SHA256 (64 B out)",
            parley: { blackHole(must { try crypto.hkdfSHA256(salt: salt, inputKeyMaterial: inputKeyMaterial, info: info, length: 64) }) },
            raw: { raw.hkdf(salt: salt, inputKeyMaterial: rawInput, info: info, into: hkdfOut) },
            targeted: true))

        let identity = try crypto.generateEd25519KeyPair(using: random)
        let rawSigningKey = identity.secretKey.secret.unsafeExportBytes()
        let message = random.bytes(count: 100)
        let signature = try crypto.sign(message, with: identity.secretKey)
        let signatureOut = RawBuffer(count: 64)
        cases.append(Case(
            name: "Ed25519 sign (100 B)",
            parley: { blackHole(must { try crypto.sign(message, with: identity.secretKey) }) },
            raw: { crypto_sign_detached(signatureOut.pointer, nil, message, UInt64(message.count), rawSigningKey) },
            targeted: true))
        cases.append(Case(
            name: "Ed25519 verify (100 B)",
            parley: { precondition(crypto.verify(signature, of: message, by: identity.publicKey)) },
            raw: { precondition(crypto_sign_verify_detached(signature.bytes, message, UInt64(message.count), identity.publicKey.bytes) == 0) },
            targeted: true))

        cases.append(contentsOf: try ratchetCases(crypto: crypto, random: random, raw: raw))
        return cases
    }

    /// A Double Ratchet message (100 bytes, padded to 160) encrypted by Alice and decrypted by Bob
    /// in a steady one-way chain (no DH step per message). Baselines: the raw AEAD seal + open of
    /// the same padded bytes, and the raw cost of everything the ratchet must compute per message
    /// (two HMACs for the chain step and one HKDF for key and nonce, on each side, plus the AEAD).
    private func ratchetCases(crypto: any CryptoProvider, random: SodiumRandomSource, raw: RawSodium) throws -> [Case] {
        let bob = try crypto.generateX25519KeyPair(using: random)
        let secret = random.secret(count: 32)
        let associatedData = random.bytes(count: 64)
        let pair = RatchetPair(
            alice: try DoubleRatchet.initiator(sharedSecret: secret, associatedData: associatedData, remoteRatchetKey: bob.publicKey, crypto: crypto, random: random),
            bob: DoubleRatchet.responder(sharedSecret: secret, associatedData: associatedData, ownRatchetKey: bob))
        let plaintext = random.bytes(count: 100)
        let padded = Padding.pad(plaintext)
        precondition(padded.count == 160)
        // Prove the pair works before timing it.
        let (header, ciphertext) = try pair.alice.encrypt(plaintext, crypto: crypto)
        let decrypted = try pair.bob.decrypt(header: header, ciphertext: ciphertext, crypto: crypto, random: random)
        precondition(decrypted == plaintext)

        let key = random.bytes(count: 32)
        let nonce = random.bytes(count: 24)
        let adWithHeader = random.bytes(count: 64 + RatchetHeader.byteCount)
        let sealedOut = RawBuffer(count: padded.count + 16)
        let openedOut = RawBuffer(count: padded.count)
        let chainKey = random.bytes(count: 32)
        let kdfState = RawRatchetScratch()
        let messageInfo = Array("Parley Message v1".utf8)

        let rawAEAD = {
            raw.seal(padded, associatedData: adWithHeader, nonce: nonce, key: key, into: sealedOut)
            precondition(raw.open(sealedOut.bytes, associatedData: adWithHeader, nonce: nonce, key: key, into: openedOut))
        }
        let rawEquivalent = {
            // Alice: chain step, message key -> key and nonce, seal. Bob: the same, open.
            for side in 0..<2 {
                raw.hmac(key: chainKey, message: 0x01, into: kdfState.messageKey)
                raw.hmac(key: chainKey, message: 0x02, into: kdfState.nextChainKey)
                raw.hkdf(salt: RawRatchetScratch.zeroSalt, inputKeyMaterial: kdfState.messageKey.bytes, info: messageInfo, into: kdfState.keyAndNonce)
                let derivedKey = UnsafePointer(kdfState.keyAndNonce.pointer)
                let derivedNonce = derivedKey + 32
                if side == 0 {
                    _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                        sealedOut.pointer, nil, padded, UInt64(padded.count), adWithHeader, UInt64(adWithHeader.count), nil, derivedNonce, derivedKey)
                } else {
                    // Both sides derive the same key and nonce from the same chain key, as Alice
                    // and Bob do, so this open succeeds (a failed open would skip decryption).
                    let opened = crypto_aead_xchacha20poly1305_ietf_decrypt(
                        openedOut.pointer, nil, nil, sealedOut.pointer, UInt64(sealedOut.count), adWithHeader, UInt64(adWithHeader.count), derivedNonce, derivedKey)
                    precondition(opened == 0)
                }
            }
        }
        let parley = {
            let (header, ciphertext) = must { try pair.alice.encrypt(plaintext, crypto: crypto) }
            blackHole(must { try pair.bob.decrypt(header: header, ciphertext: ciphertext, crypto: crypto, random: random) })
        }
        return [
            Case(name: "Double Ratchet enc+dec 100 B vs raw AEAD", parley: parley, raw: rawAEAD, targeted: false),
            Case(name: "Double Ratchet enc+dec 100 B vs raw KDF+AEAD", parley: parley, raw: rawEquivalent, targeted: true),
        ]
    }
}

/// Alice's and Bob's ratchets, mutated in place by the timed closures.
final class RatchetPair: @unchecked Sendable {
    var alice: DoubleRatchet
    var bob: DoubleRatchet
    init(alice: DoubleRatchet, bob: DoubleRatchet) {
        self.alice = alice
        self.bob = bob
    }
}

/// A preallocated output buffer for the raw calls (they allocate nothing per call).
final class RawBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt8>
    let count: Int
    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: 0, count: count)
    }
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: pointer, count: count) }
    deinit { pointer.deallocate() }
}

final class RawRatchetScratch: @unchecked Sendable {
    static let zeroSalt = [UInt8](repeating: 0, count: 32)
    let messageKey = RawBuffer(count: 32)
    let nextChainKey = RawBuffer(count: 32)
    let keyAndNonce = RawBuffer(count: 56)
}

/// libsodium called directly: the baselines.
struct RawSodium {
    init() {
        precondition(sodium_init() >= 0)
    }

    func seal(_ plaintext: some ContiguousBytes, associatedData: [UInt8], nonce: [UInt8], key: [UInt8], into out: RawBuffer) {
        plaintext.withUnsafeBytes { message in
            _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                out.pointer, nil, message.bindMemory(to: UInt8.self).baseAddress, UInt64(message.count),
                associatedData, UInt64(associatedData.count), nil, nonce, key)
        }
    }

    func open(_ ciphertext: some ContiguousBytes, associatedData: [UInt8], nonce: [UInt8], key: [UInt8], into out: RawBuffer) -> Bool {
        ciphertext.withUnsafeBytes { sealed in
            crypto_aead_xchacha20poly1305_ietf_decrypt(
                out.pointer, nil, nil, sealed.bindMemory(to: UInt8.self).baseAddress!, UInt64(sealed.count),
                associatedData, UInt64(associatedData.count), nonce, key) == 0
        }
    }

    func hmac(key: [UInt8], message: UInt8, into out: RawBuffer) {
        var byte = message
        var state = crypto_auth_hmacsha256_state()
        crypto_auth_hmacsha256_init(&state, key, key.count)
        crypto_auth_hmacsha256_update(&state, &byte, 1)
        crypto_auth_hmacsha256_final(&state, out.pointer)
    }

    /// RFC 5869 HKDF-SHA256 from `crypto_auth_hmacsha256`, on the stack, filling `out`.
    func hkdf(salt: [UInt8], inputKeyMaterial: some ContiguousBytes, info: [UInt8], into out: RawBuffer) {
        var prk = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var block = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &prk) { prk in
            let prkPointer = prk.bindMemory(to: UInt8.self).baseAddress!
            var state = crypto_auth_hmacsha256_state()
            crypto_auth_hmacsha256_init(&state, salt, salt.count)
            inputKeyMaterial.withUnsafeBytes { ikm in
                crypto_auth_hmacsha256_update(&state, ikm.bindMemory(to: UInt8.self).baseAddress, UInt64(ikm.count))
            }
            crypto_auth_hmacsha256_final(&state, prkPointer)
            withUnsafeMutableBytes(of: &block) { block in
                let blockPointer = block.bindMemory(to: UInt8.self).baseAddress!
                var produced = 0
                var counter: UInt8 = 1
                while produced < out.count {
                    crypto_auth_hmacsha256_init(&state, prkPointer, 32)
                    if counter > 1 { crypto_auth_hmacsha256_update(&state, blockPointer, 32) }
                    crypto_auth_hmacsha256_update(&state, info, UInt64(info.count))
                    crypto_auth_hmacsha256_update(&state, &counter, 1)
                    crypto_auth_hmacsha256_final(&state, blockPointer)
                    let take = min(32, out.count - produced)
                    (out.pointer + produced).update(from: blockPointer, count: take)
                    produced += take
                    counter &+= 1
                }
                sodium_memzero(blockPointer, 32)
            }
            sodium_memzero(prkPointer, 32)
            sodium_memzero(&state, MemoryLayout<crypto_auth_hmacsha256_state>.size)
        }
    }
}

/// Runs a call whose inputs are known valid; a failure is a bug in the benchmark itself. Inlined so
/// that the timed loop carries no error plumbing beyond the check.
@inline(__always)
func must<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch { preconditionFailure("benchmark input failed: \(error)") }
}
