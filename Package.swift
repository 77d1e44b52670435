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
    ],
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

        // MARK: - tests
        .testTarget(name: "PrimitivesTests", dependencies: ["Primitives"], path: "Tests/PrimitivesTests"),
        .testTarget(name: "SodiumCryptoTests", dependencies: ["SodiumCrypto", "Primitives"], path: "Tests/SodiumCryptoTests"),
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
    ]
)
