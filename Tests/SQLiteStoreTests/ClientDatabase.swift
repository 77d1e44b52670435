import ClientCore
import Primitives
import SQLiteStore
import SodiumCrypto

/// Opens client databases for tests: libsodium, the OS random source, and Argon2id at its
/// minimum cost (the default cost would make every test take a quarter of a second).
enum ClientDatabase {
    static let password = "correct horse battery staple"

    static func secret(_ text: String) -> SecretBytes { SecretBytes(copying: Array(text.utf8)) }

    static func open(
        _ path: String, password: String = password, cost: Argon2Cost = .minimum, sentLogLimits: SentLogLimits = .standard,
        eventLogLimits: EventLogLimits = .standard, legacyImages: LegacyImageImport? = nil
    ) throws(ClientStoreError) -> SQLiteClientStore {
        let crypto: SodiumCryptoProvider
        let random: SodiumRandomSource
        do {
            crypto = try SodiumCryptoProvider()
            random = try SodiumRandomSource()
        } catch {
            throw .unavailable("libsodium: \(error)")
        }
        return try SQLiteClientStore.open(
            path: path, password: secret(password), crypto: crypto, random: random, cost: cost, sentLogLimits: sentLogLimits,
            eventLogLimits: eventLogLimits, legacyImages: legacyImages)
    }
}
