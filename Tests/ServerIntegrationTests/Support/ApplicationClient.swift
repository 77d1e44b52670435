import MLKEMCrypto
import ClientCore
import Foundation
import InMemoryStore
import PNGImages
import Primitives
import SystemClock
import TCPTransport

/// A full client application (``ParleyClient``) on in-memory stores, connected over real TCP:
/// what a user's device runs, minus the sealed database and the terminal.
struct ApplicationClient: Sendable {
    let client: ParleyClient
    /// Everything the client reported (arrivals, receipts, warnings), in order.
    let events: Observed<ClientEvent>

    /// Waits until a text message with exactly `text` has arrived.
    func waitForMessage(_ text: String, within limit: Duration = .seconds(15)) async throws {
        try await events.wait("the message \"\(text)\"", within: limit) { events in
            events.contains { event in
                if case .message(let entry) = event, case .text(text) = entry.body { return true }
                return false
            }
        }
    }
}

extension IntegrationEnvironment {
    /// One device's stores; they outlive connections, as a real device's database does.
    func deviceStores(imagesIn directory: String) -> ClientStores {
        InMemoryClientStores().clientStores(images: FileSystemImageLibrary(root: directory))
    }

    /// Connects a device to `127.0.0.1:port` (pinning `serverKey`), runs the client's background
    /// loops, and hands `body` the client; disconnects afterwards.
    func withApplicationClient<Result: Sendable>(
        port: Int, serverKey: X25519PublicKey, stores: ClientStores, _ body: (ApplicationClient) async throws -> Result
    ) async throws -> Result {
        try await clientTransport().withConnection(host: "127.0.0.1", port: port, expectedServerKey: serverKey) { connection, inbound in
            let wire = WireClient(connection: connection, requestTimeout: .seconds(15) * sanitizerSlowdown)
            let client = ParleyClient(
                wire: wire, stores: stores, crypto: crypto, kem: SwiftCryptoMLKEM(), random: random, clock: SystemWallClock(),
                imageValidator: LibPNGImageValidator())
            let application = ApplicationClient(client: client, events: Observed())
            return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
                group.addTask { await wire.run(inbound: inbound) }
                group.addTask { await client.processPushes() }
                group.addTask {
                    for await event in client.events { application.events.append(event) }
                    application.events.finish()
                }
                let outcome: Swift.Result<Result, any Error>
                do { outcome = .success(try await body(application)) } catch { outcome = .failure(error) }
                await wire.close()
                await client.finishEvents()
                try await group.waitForAll()
                return try outcome.get()
            }
        }
    }
}
