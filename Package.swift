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
        .target(name: "SecureChannel", dependencies: ["Primitives"], path: "Sources/SecureChannel"),

        // MARK: - adapters (implement the ports; depend on the core, never the reverse)
        .systemLibrary(name: "CSodium", path: "Adapters/CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Adapters/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPNG", path: "Adapters/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .target(name: "SodiumCrypto", dependencies: ["Primitives", "CSodium"], path: "Adapters/SodiumCrypto"),

        // MARK: - tests
        .testTarget(name: "PrimitivesTests", dependencies: ["Primitives"], path: "Tests/PrimitivesTests"),
        .testTarget(name: "SodiumCryptoTests", dependencies: ["SodiumCrypto", "Primitives"], path: "Tests/SodiumCryptoTests"),
        .testTarget(
            name: "SecureChannelTests",
            dependencies: ["SecureChannel", "Primitives", "SodiumCrypto"],
            path: "Tests/SecureChannelTests",
            resources: [.copy("Vectors")]),
    ]
)
