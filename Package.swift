// swift-tools-version:6.1
// Parley: an end-to-end encrypted 1:1 messenger. The target graph below is the architecture:
// executables -> application -> domain <- adapters. A domain module cannot import an adapter, NIO
// or a C library because it does not depend on one. See Architecture.md.
import PackageDescription

let package = Package(
    name: "Parley",
    platforms: [.macOS(.v15)],
    products: [],
    dependencies: [],
    targets: [
        // MARK: - domain (no I/O; driven through ports declared here)
        .target(name: "Primitives", path: "Sources/Primitives"),
        .target(name: "Accounts", dependencies: ["Primitives"], path: "Sources/Accounts"),
        .target(name: "Prekeys", dependencies: ["Primitives"], path: "Sources/Prekeys"),
        .target(name: "Envelope", dependencies: ["Primitives"], path: "Sources/Envelope"),
        .target(name: "Conversations", dependencies: ["Primitives", "Prekeys", "Envelope"], path: "Sources/Conversations"),

        // MARK: - application (the server's use cases; the store ports its adapters implement)
        .target(name: "ServerCore", dependencies: ["Primitives", "Accounts", "Prekeys"], path: "Sources/ServerCore"),

        // MARK: - adapters (implement the ports; depend on the core, never the reverse)
        .systemLibrary(name: "CSodium", path: "Adapters/CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Adapters/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPNG", path: "Adapters/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .target(name: "SodiumCrypto", dependencies: ["Primitives", "CSodium"], path: "Adapters/SodiumCrypto"),
        .target(name: "InMemoryStore", dependencies: ["Primitives", "Accounts", "Prekeys", "ServerCore"], path: "Adapters/InMemoryStore"),
        .target(name: "SQLiteStore", dependencies: ["Primitives", "Accounts", "Prekeys", "ServerCore", "CSQLite"], path: "Adapters/SQLiteStore"),

        // MARK: - tests
        .testTarget(name: "PrimitivesTests", dependencies: ["Primitives"], path: "Tests/PrimitivesTests"),
        .testTarget(name: "SodiumCryptoTests", dependencies: ["SodiumCrypto", "Primitives"], path: "Tests/SodiumCryptoTests"),
        .testTarget(name: "AccountsTests", dependencies: ["Accounts", "Primitives", "SodiumCrypto", "InMemoryStore"], path: "Tests/AccountsTests"),
        // One generic contract suite per store port (a library, not a test bundle), run by every
        // adapter's test target so that the in-memory fakes cannot drift from SQLite.
        .target(name: "StoreContractTests", dependencies: ["Primitives", "Accounts", "Prekeys", "ServerCore"], path: "Tests/StoreContractTests"),
        .testTarget(name: "InMemoryStoreTests", dependencies: ["InMemoryStore", "StoreContractTests", "Primitives", "Accounts", "Prekeys", "ServerCore"], path: "Tests/InMemoryStoreTests"),
        .testTarget(name: "SQLiteStoreTests", dependencies: ["SQLiteStore", "StoreContractTests", "CSQLite", "Primitives", "Accounts", "Prekeys", "ServerCore"], path: "Tests/SQLiteStoreTests"),
    ]
)
