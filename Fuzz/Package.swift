// swift-tools-version:6.1
// Parley's libFuzzer targets: a package of its own so that `make build`, `make test` and the main
// build never compile them. Build and run them with `make fuzz` (`swift build -c release
// --sanitize=fuzzer --scratch-path .build-fuzz`; see README.md and Architecture.md, "Test strategy").
//
// Each executable is one `LLVMFuzzerTestOneInput` over a property in Tests/FuzzProperties (a
// library of the main package too, where Tests/FuzzReplayTests replays Fuzz/Corpus and
// Fuzz/Crashes through the same checks). They link only with `--sanitize=fuzzer`, which supplies
// `main`.
//
// As in Benchmarks/, Parley's modules are declared again over symlinks (Linked/Sources,
// Linked/Adapters, Linked/Tests -> the root's directories), because the root manifest vends no
// library products; nothing is copied. Only what the properties need is declared: no NIO.
import PackageDescription

let parley = "Linked/Sources/"
let adapters = "Linked/Adapters/"

let package = Package(
    name: "ParleyFuzz",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fuzz-wire-codec", targets: ["fuzz-wire-codec"]),
        .executable(name: "fuzz-envelope", targets: ["fuzz-envelope"]),
        .executable(name: "fuzz-session-state", targets: ["fuzz-session-state"]),
        .executable(name: "fuzz-noise-responder", targets: ["fuzz-noise-responder"]),
        .executable(name: "fuzz-client-records", targets: ["fuzz-client-records"]),
        .executable(name: "fuzz-png-validation", targets: ["fuzz-png-validation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
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
        .systemLibrary(name: "CPNG", path: adapters + "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .target(name: "SodiumCrypto", dependencies: ["Primitives", "CSodium"], path: adapters + "SodiumCrypto"),
        .target(
            name: "MLKEMCrypto", dependencies: ["Primitives", .product(name: "Crypto", package: "swift-crypto")], path: adapters + "MLKEMCrypto"),
        .target(
            name: "SQLiteStore",
            dependencies: ["Primitives", "Accounts", "Prekeys", "Envelope", "Conversations", "ServerCore", "ClientCore", "CSQLite"],
            path: adapters + "SQLiteStore"),
        .target(name: "PNGImages", dependencies: ["ClientCore", "Conversations", "Primitives", "Envelope", "CPNG"], path: adapters + "PNGImages"),
        .target(
            name: "FuzzProperties",
            dependencies: [
                "Primitives", "Prekeys", "Envelope", "Conversations", "SecureChannel", "WireProtocol", "ClientCore", "SodiumCrypto",
                "MLKEMCrypto", "SQLiteStore", "PNGImages",
            ],
            path: "Linked/Tests/FuzzProperties"),

        // MARK: - the fuzz targets (one LLVMFuzzerTestOneInput each)
        .executableTarget(name: "fuzz-wire-codec", dependencies: ["FuzzProperties"], path: "Targets/fuzz-wire-codec"),
        .executableTarget(name: "fuzz-envelope", dependencies: ["FuzzProperties"], path: "Targets/fuzz-envelope"),
        .executableTarget(name: "fuzz-session-state", dependencies: ["FuzzProperties"], path: "Targets/fuzz-session-state"),
        .executableTarget(name: "fuzz-noise-responder", dependencies: ["FuzzProperties"], path: "Targets/fuzz-noise-responder"),
        .executableTarget(name: "fuzz-client-records", dependencies: ["FuzzProperties"], path: "Targets/fuzz-client-records"),
        .executableTarget(name: "fuzz-png-validation", dependencies: ["FuzzProperties"], path: "Targets/fuzz-png-validation"),
    ]
)
