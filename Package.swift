// swift-tools-version:6.1
// Parley: an end-to-end encrypted 1:1 messenger. The target graph below is the architecture:
// executables -> application -> domain <- adapters. A domain module cannot import an adapter, NIO
// or a C library because it does not depend on one. See Architecture.md.
import PackageDescription

let package = Package(
    name: "Parley",
    platforms: [.macOS(.v15)],
    products: [],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        // The PostgreSQL adapter (issue 12: several server nodes on one database).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // ML-KEM-1024 for PQXDH (BoringSSL's FIPS 203 code underneath), behind the KEMProvider port.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        // Latency percentiles in the benchmark suite (parley-bench) only.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // MARK: - domain (no I/O; driven through ports declared here)
        .target(name: "Primitives", path: "Sources/Primitives"),
        .target(name: "Accounts", dependencies: ["Primitives"], path: "Sources/Accounts"),
        .target(name: "Prekeys", dependencies: ["Primitives"], path: "Sources/Prekeys"),
        .target(name: "Envelope", dependencies: ["Primitives"], path: "Sources/Envelope"),
        .target(name: "Conversations", dependencies: ["Primitives", "Prekeys", "Envelope"], path: "Sources/Conversations"),
        .target(name: "SecureChannel", dependencies: ["Primitives"], path: "Sources/SecureChannel"),

        // MARK: - application (drives the domain; what the executables run)
        .target(name: "WireProtocol", dependencies: ["Primitives", "Prekeys", "Envelope"], path: "Sources/WireProtocol"),
        .target(
            name: "ServerCore",
            dependencies: [
                "Primitives", "Accounts", "Prekeys", "SecureChannel", "WireProtocol",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/ServerCore"),
        // The client's application core: its use cases, and the client-side ports (ImageValidator,
        // ImageLibrary, ClientSettingsStore, ServerConnector) that adapters plug into.
        .target(
            name: "ClientCore",
            dependencies: ["Primitives", "Prekeys", "Envelope", "Conversations", "SecureChannel", "WireProtocol"],
            path: "Sources/ClientCore"),

        // MARK: - adapters (implement the ports; depend on the core, never the reverse)
        .systemLibrary(name: "CSodium", path: "Adapters/CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Adapters/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPNG", path: "Adapters/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .target(name: "SodiumCrypto", dependencies: ["Primitives", "CSodium"], path: "Adapters/SodiumCrypto"),
        .target(
            name: "MLKEMCrypto", dependencies: ["Primitives", .product(name: "Crypto", package: "swift-crypto")], path: "Adapters/MLKEMCrypto"),
        .target(name: "InMemoryStore", dependencies: ["Primitives", "Accounts", "Prekeys", "Envelope", "Conversations", "ServerCore", "ClientCore"], path: "Adapters/InMemoryStore"),
        .target(
            name: "TCPTransport",
            dependencies: [
                "SecureChannel", "Primitives",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Adapters/TCPTransport"),
        .target(
            name: "SQLiteStore",
            dependencies: ["Primitives", "Accounts", "Prekeys", "Envelope", "Conversations", "ServerCore", "ClientCore", "CSQLite"],
            path: "Adapters/SQLiteStore"),
        // The server stores and the event bus over PostgreSQL, for several nodes on one database.
        .target(
            name: "PostgresStore",
            dependencies: [
                "Primitives", "Accounts", "Prekeys", "ServerCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Adapters/PostgresStore"),
        .target(name: "PNGImages", dependencies: ["ClientCore", "Conversations", "Primitives", "Envelope", "CPNG"], path: "Adapters/PNGImages"),
        .target(name: "SystemClock", dependencies: ["Primitives"], path: "Adapters/SystemClock"),
        // The terminal client's line editor, password prompt and colours: Glibc and Foundation only,
        // no libedit/readline, nothing third-party; from the project only `Primitives`, for the
        // TSan-visible `LockedValue`.
        .target(name: "TerminalIO", dependencies: ["Primitives"], path: "Adapters/TerminalIO"),

        // MARK: - executables (composition roots: wire adapters into the application, run, shut down)
        .executableTarget(
            name: "parley-server",
            dependencies: [
                "Primitives", "Accounts", "Prekeys", "ServerCore", "SecureChannel", "SodiumCrypto", "SQLiteStore", "PostgresStore",
                "InMemoryStore", "TCPTransport", "SystemClock",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/parley-server"),
        .executableTarget(
            name: "parley",
            dependencies: [
                "Primitives", "ClientCore", "Conversations", "Envelope", "SecureChannel", "SodiumCrypto", "MLKEMCrypto", "SQLiteStore",
                "PNGImages", "TCPTransport", "TerminalIO", "SystemClock",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // The daemon's JSON-RPC socket server (Sources/parley/Daemon).
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/parley"),
        // The benchmark suite (BENCHMARKS.md; its cluster scenario starts PostgreSQL with the tests'
        // PostgresTestCluster library): `make bench` builds it in release; `make test` builds
        // it in debug with everything else, and CI runs its smoke pass (`parley-bench --quick`) on
        // that debug build, so a benchmark that no longer runs is noticed. `make build` leaves it out.
        .executableTarget(
            name: "parley-bench",
            dependencies: [
                "Primitives", "Accounts", "Prekeys", "Envelope", "Conversations", "SecureChannel", "WireProtocol",
                "ServerCore", "ClientCore", "CSodium", "SodiumCrypto", "MLKEMCrypto", "InMemoryStore", "TCPTransport", "SQLiteStore",
                "PostgresStore", "PostgresTestCluster", "SystemClock",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Benchmarks/parley-bench"),

        // MARK: - tests
        .testTarget(name: "PrimitivesTests", dependencies: ["Primitives"], path: "Tests/PrimitivesTests"),
        .testTarget(name: "SodiumCryptoTests", dependencies: ["SodiumCrypto", "Primitives"], path: "Tests/SodiumCryptoTests"),
        .testTarget(name: "WireProtocolTests", dependencies: ["WireProtocol", "Prekeys", "Primitives"], path: "Tests/WireProtocolTests"),
        .testTarget(name: "EnvelopeTests", dependencies: ["Envelope", "Primitives"], path: "Tests/EnvelopeTests"),
        .testTarget(
            name: "ConversationsTests",
            dependencies: ["Conversations", "Prekeys", "Envelope", "Primitives", "InMemoryStore", "SodiumCrypto", "MLKEMCrypto"],
            path: "Tests/ConversationsTests"),
        .testTarget(name: "AccountsTests", dependencies: ["Accounts", "Primitives", "SodiumCrypto", "InMemoryStore"], path: "Tests/AccountsTests"),
        // One generic contract suite per store port (a library, not a test bundle), run by every
        // adapter's test target so that the in-memory fakes cannot drift from SQLite.
        // The client-side suites build real sessions (SessionCipher over libsodium) to round-trip.
        .target(
            name: "StoreContractTests",
            dependencies: ["Primitives", "Accounts", "Prekeys", "Envelope", "Conversations", "ServerCore", "ClientCore", "SodiumCrypto", "MLKEMCrypto"],
            path: "Tests/StoreContractTests"),
        .testTarget(name: "InMemoryStoreTests", dependencies: ["InMemoryStore", "StoreContractTests", "Primitives", "Accounts", "Prekeys", "ServerCore", "ClientCore"], path: "Tests/InMemoryStoreTests"),
        .testTarget(
            name: "SecureChannelTests",
            dependencies: ["SecureChannel", "Primitives", "SodiumCrypto"],
            path: "Tests/SecureChannelTests",
            resources: [.copy("Vectors")]),
        .testTarget(
            name: "TCPTransportTests",
            dependencies: [
                "TCPTransport", "SecureChannel", "Primitives", "SodiumCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            path: "Tests/TCPTransportTests"),
        .testTarget(
            name: "SQLiteStoreTests",
            dependencies: [
                "SQLiteStore", "StoreContractTests", "CSQLite", "Primitives", "Accounts", "Prekeys", "Envelope", "Conversations",
                "ServerCore", "ClientCore", "SodiumCrypto", "MLKEMCrypto", "PNGImages",
            ],
            path: "Tests/SQLiteStoreTests",
            resources: [.copy("Fixtures")]),
        // A throwaway PostgreSQL cluster (initdb + pg_ctl on a free port, always stopped): a library,
        // shared by every test target that needs a real PostgreSQL.
        .target(name: "PostgresTestCluster", dependencies: ["PostgresStore", "Primitives"], path: "Tests/PostgresTestCluster"),
        // The PostgreSQL adapters against a throwaway cluster that the tests start themselves.
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: ["PostgresStore", "PostgresTestCluster", "StoreContractTests", "Primitives", "Accounts", "Prekeys", "ServerCore"],
            path: "Tests/PostgresStoreTests"),
        .testTarget(
            name: "PNGImagesTests",
            dependencies: ["PNGImages", "ClientCore", "Conversations", "Primitives", "Envelope", "StoreContractTests"],
            path: "Tests/PNGImagesTests",
            exclude: ["make_corpus.py"],
            resources: [.copy("Corpus")]),
        .testTarget(
            name: "ApplicationTests",
            dependencies: [
                "ClientCore", "ServerCore", "Conversations", "Envelope", "Primitives", "SecureChannel", "WireProtocol",
                "InMemoryStore", "PNGImages", "SodiumCrypto", "MLKEMCrypto", "SystemClock",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/ApplicationTests"),
        // Drives the built `parley` and `parley-server` binaries (built by `swift build --build-tests`).
        // CSQLite only to count rows behind the binaries' backs (read-only), as a test's own view.
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["ClientCore", "PNGImages", "CSQLite", "Primitives"],
            path: "Tests/EndToEndTests",
            linkerSettings: [.linkedLibrary("util")]),
        // The server over real TCP on 127.0.0.1: in-process on SQLite for behaviour, and the built
        // parley-server executable as a child process for interop, crashes and shutdown, and two of
        // them on one throwaway PostgreSQL (PostgresTestCluster) as a cluster.
        .testTarget(
            name: "ServerIntegrationTests",
            dependencies: [
                "ServerCore", "ClientCore", "WireProtocol", "SecureChannel", "TCPTransport", "SQLiteStore", "CSQLite", "PostgresTestCluster",
                "InMemoryStore", "PNGImages", "SodiumCrypto", "MLKEMCrypto", "SystemClock", "Primitives", "Prekeys",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/ServerIntegrationTests"),
        // The fuzz properties (a library, not a test bundle): run by the libFuzzer executables of the
        // separate Fuzz/ package and, over the committed corpora and crash inputs, by FuzzReplayTests.
        .target(
            name: "FuzzProperties",
            dependencies: [
                "Primitives", "Prekeys", "Envelope", "Conversations", "SecureChannel", "WireProtocol", "ClientCore", "SodiumCrypto",
                "MLKEMCrypto", "SQLiteStore", "PNGImages",
            ],
            path: "Tests/FuzzProperties"),
        .testTarget(name: "FuzzReplayTests", dependencies: ["FuzzProperties"], path: "Tests/FuzzReplayTests"),
        // Drives the line editor through a pseudo-terminal (openpty lives in libutil on older glibc).
        .testTarget(
            name: "TerminalIOTests", dependencies: ["TerminalIO", "Primitives"], path: "Tests/TerminalIOTests",
            linkerSettings: [.linkedLibrary("util", .when(platforms: [.linux]))]),
    ]
)
