// swift-tools-version:6.1
// Parley's benchmark suite: a package of its own so that `make test`, CI and the main build never
// compile or run it. Run it with `make bench` (release build); see BENCHMARKS.md.
//
// Why the Parley modules are declared again here, over symlinks (Linked/Sources -> ../../Sources,
// Linked/Adapters -> ../../Adapters), instead of `.package(path: "..")`: the root manifest vends no
// library products (`products: []`), so a dependent package cannot import any of its modules, and
// the root manifest is owned by the main build, which this suite must not touch. The targets below
// compile exactly the root's source directories with the root's dependency graph; nothing is
// copied. If the root ever vends library products, replace this block with a path dependency.
import PackageDescription

let parley = "Linked/Sources/"
let adapters = "Linked/Adapters/"

let package = Package(
    name: "ParleyBenchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley-bench", targets: ["parley-bench"]),
        .executable(name: "parley-server", targets: ["parley-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        // MARK: - Parley's own modules (the root package's sources, unchanged)
        .target(name: "Primitives", path: parley + "Primitives"),
        .target(name: "Accounts", dependencies: ["Primitives"], path: parley + "Accounts"),
        .target(name: "Prekeys", dependencies: ["Primitives"], path: parley + "Prekeys"),
        .target(name: "Envelope", dependencies: ["Primitives"], path: parley + "Envelope"),
        .target(name: "Conversations", dependencies: ["Primitives", "Prekeys", "Envelope"], path: parley + "Conversations"),
        .target(name: "SecureChannel", dependencies: ["Primitives"], path: parley + "SecureChannel"),
        .target(name: "WireProtocol", dependencies: ["Primitives", "Prekeys", "Envelope"], path: parley + "WireProtocol"),
        .target(
            name: "ServerCore",
            dependencies: [
                "Primitives", "Accounts", "Prekeys", "SecureChannel", "WireProtocol",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: parley + "ServerCore"),
        .target(
            name: "ClientCore",
            dependencies: ["Primitives", "Prekeys", "Envelope", "Conversations", "SecureChannel", "WireProtocol"],
            path: parley + "ClientCore"),
        .systemLibrary(name: "CSodium", path: adapters + "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CSQLite", path: adapters + "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "SodiumCrypto", dependencies: ["Primitives", "CSodium"], path: adapters + "SodiumCrypto"),
        .target(
            name: "MLKEMCrypto", dependencies: ["Primitives", .product(name: "Crypto", package: "swift-crypto")], path: adapters + "MLKEMCrypto"),
        .target(
            name: "InMemoryStore",
            dependencies: ["Primitives", "Accounts", "Prekeys", "Envelope", "Conversations", "ServerCore", "ClientCore"],
            path: adapters + "InMemoryStore"),
        .target(
            name: "TCPTransport",
            dependencies: [
                "SecureChannel", "Primitives",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: adapters + "TCPTransport"),
        .target(name: "SQLiteStore", dependencies: ["Primitives", "Accounts", "Prekeys", "ServerCore", "CSQLite"], path: adapters + "SQLiteStore"),
        .target(name: "SystemClock", dependencies: ["Primitives"], path: adapters + "SystemClock"),
        // The real server binary (same sources as the root's), run as a child process by the
        // idle-connection benchmark so that its memory is measured apart from the clients'.
        .executableTarget(
            name: "parley-server",
            dependencies: [
                "Primitives", "ServerCore", "SecureChannel", "SodiumCrypto", "SQLiteStore", "InMemoryStore", "TCPTransport", "SystemClock",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: parley + "parley-server"),

        // MARK: - the benchmarks
        .executableTarget(
            name: "parley-bench",
            dependencies: [
                "Primitives", "Accounts", "Prekeys", "Envelope", "Conversations", "SecureChannel", "WireProtocol",
                "ServerCore", "ClientCore", "CSodium", "SodiumCrypto", "MLKEMCrypto", "InMemoryStore", "TCPTransport", "SQLiteStore",
                "SystemClock",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Sources/parley-bench"),
    ]
)
