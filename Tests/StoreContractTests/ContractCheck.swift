import Testing

/// One named behaviour of a store port, runnable against any adapter.
///
/// Modelled on SwiftNIO's `ByteToMessageDecoderVerifier`: the contract is written once, here, and
/// every adapter's test target runs all of it through a parameterised `@Test`, passing a factory
/// that makes a fresh, empty store. A fake that drifts from the database then fails the same check
/// the database passes. (Copying the suite per adapter, as Hummingbird does, is what lets them drift.)
public struct ContractCheck<Factory: Sendable>: Sendable, CustomTestStringConvertible {
    /// The behaviour, as a sentence; it names the test case in the report.
    public let name: String
    private let body: @Sendable (Factory) async throws -> Void

    init(_ name: String, _ body: @escaping @Sendable (Factory) async throws -> Void) {
        self.name = name
        self.body = body
    }

    public var testDescription: String { name }

    /// Runs the check against a store made by `factory`. Failures are recorded as Swift Testing
    /// issues of the calling test; a thrown error fails it too.
    public func run(_ factory: Factory) async throws {
        try await body(factory)
    }
}
