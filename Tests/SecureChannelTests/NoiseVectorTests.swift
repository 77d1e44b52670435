import Foundation
import Primitives
import Testing
@testable import SecureChannel

/// Known-answer tests: the published cacophony vectors for exactly our suite, loaded from JSON by
/// one generic loader.
@Suite struct NoiseVectorTests {
    struct VectorFile: Decodable {
        let vectors: [Vector]
    }

    struct Vector: Decodable {
        let protocol_name: String
        let init_prologue: String
        let init_static: String
        let init_ephemeral: String
        let resp_prologue: String
        let resp_static: String
        let resp_ephemeral: String
        let handshake_hash: String
        /// The hash both this implementation and PyPI noiseprotocol compute (see the file's note).
        let parley_checked_handshake_hash: String
        /// Why the published `handshake_hash` is not the computed one, when it is not.
        let handshake_hash_disagreement: String?
        let messages: [Message]
    }

    struct Message: Decodable {
        let payload: String
        let ciphertext: String
    }

    static func loadVectors() throws -> [Vector] {
        let url = try #require(Bundle.module.url(forResource: "noise-xx-25519-chachapoly-blake2b", withExtension: "json", subdirectory: "Vectors"))
        return try JSONDecoder().decode(VectorFile.self, from: Data(contentsOf: url)).vectors
    }

    @Test func cacophonyVectorsMatchByteForByte() throws {
        let environment = try TestEnvironment()
        let crypto = environment.crypto
        let vectors = try Self.loadVectors()
        #expect(!vectors.isEmpty)
        for vector in vectors {
            #expect(vector.protocol_name == NoiseProtocol.name)
            let initiatorStatic = try crypto.x25519KeyPair(secretKey: X25519SecretKey(SecretBytes(copying: [UInt8](hex: vector.init_static))))
            let responderStatic = try crypto.x25519KeyPair(secretKey: X25519SecretKey(SecretBytes(copying: [UInt8](hex: vector.resp_static))))
            var initiator = try HandshakeState(
                role: .initiator, localStatic: initiatorStatic, prologue: [UInt8](hex: vector.init_prologue),
                crypto: crypto, random: ScriptedRandomSource([UInt8](hex: vector.init_ephemeral)))
            var responder = try HandshakeState(
                role: .responder, localStatic: responderStatic, prologue: [UInt8](hex: vector.resp_prologue),
                crypto: crypto, random: ScriptedRandomSource([UInt8](hex: vector.resp_ephemeral)))

            // Handshake: messages 0 and 2 from the initiator, 1 from the responder.
            for (index, message) in vector.messages.prefix(3).enumerated() {
                let payload = [UInt8](hex: message.payload)
                if index % 2 == 0 {
                    let written = try initiator.writeMessage(payload: payload)
                    #expect(Hex.encode(written) == message.ciphertext, "handshake message \(index)")
                    #expect(try responder.readMessage(written) == payload)
                } else {
                    let written = try responder.writeMessage(payload: payload)
                    #expect(Hex.encode(written) == message.ciphertext, "handshake message \(index)")
                    #expect(try initiator.readMessage(written) == payload)
                }
            }
            #expect(Hex.encode(initiator.handshakeHash) == vector.parley_checked_handshake_hash)
            // The published hash is compared too: equal, or differing exactly as recorded.
            if let disagreement = vector.handshake_hash_disagreement {
                #expect(!disagreement.isEmpty)
                #expect(vector.handshake_hash != vector.parley_checked_handshake_hash)
                #expect(Hex.encode(initiator.handshakeHash) != vector.handshake_hash, "the published hash matches now: drop handshake_hash_disagreement")
            } else {
                #expect(Hex.encode(initiator.handshakeHash) == vector.handshake_hash)
            }
            #expect(responder.handshakeHash == initiator.handshakeHash)
            #expect(initiator.remoteStaticKey == responderStatic.publicKey)
            #expect(responder.remoteStaticKey == initiatorStatic.publicKey)

            // Transport: cacophony continues the alternation, so message 3 is the responder's.
            var initiatorTransport = try initiator.split()
            var responderTransport = try responder.split()
            #expect(Hex.encode(initiatorTransport.handshakeHash) == vector.parley_checked_handshake_hash)
            for (offset, message) in vector.messages.dropFirst(3).enumerated() {
                let payload = [UInt8](hex: message.payload)
                if offset % 2 == 0 {
                    let sealed = try responderTransport.encrypt(payload)
                    #expect(Hex.encode(sealed) == message.ciphertext, "transport message \(offset + 3)")
                    #expect(try initiatorTransport.decrypt(sealed) == payload)
                } else {
                    let sealed = try initiatorTransport.encrypt(payload)
                    #expect(Hex.encode(sealed) == message.ciphertext, "transport message \(offset + 3)")
                    #expect(try responderTransport.decrypt(sealed) == payload)
                }
            }
        }
    }

    /// HMAC-BLAKE2b must be the plain RFC 2104 construction (checked against Python's
    /// `hmac.new(key, msg, hashlib.blake2b)`), not libsodium's keyed BLAKE2b.
    @Test func hmacBlake2bMatchesRFC2104() throws {
        let hashing = NoiseHash(crypto: try TestEnvironment().crypto)
        let message = Array("parley hmac-blake2b".utf8)
        let blockKey = try hashing.hmac(key: SecretBytes(copying: (0..<64).map { UInt8($0) }), data: message)
        #expect(Hex.encode(blockKey.unsafeExportBytes()) == "1b76926828215e9f7b28e485bed64c22188ffc9364e4ac20f963c715d213d8eb4e14cae3472029967a905bb0a9217cfa93a2b91c234ce3f8c4d71cb6a643d8a2")
        let longKey = try hashing.hmac(key: SecretBytes(copying: (0..<200).map { UInt8($0) }), data: message)
        #expect(Hex.encode(longKey.unsafeExportBytes()) == "04519530eabb78c91496716f141f29b26ef2125acb644f2cc2b1a0a5421ed8675cdbafdc3106b9df5baaf2869ccc4b70f926036041857dd22ce770c2ad55bdf3")
    }
}
