import Primitives
import Testing

/// What a test started that must end with it: the in-memory connections of its ``TestWorld``s
/// (their server, wire, event and push tasks, and the streams those wait on).
///
/// Why: a test that returns with connections still open leaves their tasks suspended on streams
/// nobody will ever finish. LeakSanitizer (`make asan`) reports that memory at exit, and the tasks
/// keep running into the next tests. Rejected: shutting down in each test (`defer` cannot `await`,
/// and every early `throw` would skip it) and in `TestWorld.deinit` (it cannot `await` either, and
/// a world is released before its tasks end).
final class ShutdownRegistry: Sendable {
    @TaskLocal static var current: ShutdownRegistry?

    private let pending = LockedValue<[@Sendable () async -> Void]>([])

    /// Adds `shutDown`, to be awaited when the test ends (pass or fail).
    func add(_ shutDown: @escaping @Sendable () async -> Void) {
        pending.withLock { $0.append(shutDown) }
    }

    /// Adds `shutDown` to the running test's registry; records an issue when the test runs
    /// outside ``ShutsDownConnections`` (it would leak what it started).
    static func register(_ shutDown: @escaping @Sendable () async -> Void) {
        guard let current else {
            Issue.record("opened a connection outside a suite or test marked .shutsDownConnections")
            return
        }
        current.add(shutDown)
    }

    /// Runs every registered shutdown, latest first, until none is left (one may register more).
    func shutDownAll() async {
        while let next = pending.withLock({ $0.popLast() }) {
            await next()
        }
    }
}

/// Runs each test with a fresh ``ShutdownRegistry`` and, when it ends, closes every connection it
/// opened and waits for their tasks to finish.
struct ShutsDownConnections: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        // Once per test case (each argument of a parameterised test), not around a whole suite.
        testCase == nil ? nil : self
    }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let registry = ShutdownRegistry()
        try await ShutdownRegistry.$current.withValue(registry) {
            do {
                try await function()
            } catch {
                await registry.shutDownAll()
                throw error
            }
            await registry.shutDownAll()
        }
    }
}

extension Trait where Self == ShutsDownConnections {
    /// Closes every connection a test opened, and waits for its tasks, when the test ends.
    static var shutsDownConnections: Self { ShutsDownConnections() }
}
