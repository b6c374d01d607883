// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "porten",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "porten", targets: ["PortenCLI"]),
        .executable(name: "porten-conformance", targets: ["ConformanceCLI"]),
        .library(name: "PortenConformance", targets: ["PortenConformance"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // MARK: Reference Hub and node agent

        /// OpenAI wire types shared by the Hub, the node agent and tests: JSON values, errors, SSE.
        .target(
            name: "OpenAIWire",
            path: "Reference/OpenAIWire",
            swiftSettings: swiftSettings
        ),
        /// Frames of the Hub ↔ node WebSocket tunnel (docs/node-protocol.md).
        .target(
            name: "NodeProtocol",
            dependencies: ["OpenAIWire"],
            path: "Reference/NodeProtocol",
            swiftSettings: swiftSettings
        ),
        /// A Swift task executor on a NIO event loop, for both ends of the tunnel.
        .target(
            name: "EventLoopExecution",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            path: "Reference/EventLoopExecution",
            swiftSettings: swiftSettings
        ),
        /// OpenSSL's RNG, SHA-256 and constant-time compare.
        .systemLibrary(
            name: "COpenSSL",
            path: "Reference/COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        /// posix_spawn's close-from file action, which needs _GNU_SOURCE.
        .target(
            name: "CSpawn",
            path: "Reference/CSpawn"
        ),
        .target(
            name: "PortenHub",
            dependencies: [
                "OpenAIWire", "NodeProtocol", "EventLoopExecution", "COpenSSL", "PortenRedis",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Reference/PortenHub",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PortenNode",
            dependencies: [
                "OpenAIWire", "NodeProtocol", "EventLoopExecution", "COpenSSL", "CSpawn",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Reference/PortenNode",
            swiftSettings: swiftSettings
        ),
        /// A small RESP client for the Hub's shared state: the commands it uses, pipelining,
        /// reconnects and pub/sub (docs/redis.md).
        .target(
            name: "PortenRedis",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Reference/PortenRedis",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "PortenCLI",
            dependencies: [
                "PortenHub", "PortenNode", "OpenAIWire", "PortenRedis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Reference/PortenCLI",
            swiftSettings: swiftSettings
        ),

        // MARK: Tests

        // MARK: Conformance suite

        /// libcurl, with typed wrappers for its variadic calls.
        .systemLibrary(
            name: "CCurl",
            path: "Conformance/CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        /// jansson: strict JSON parsing and canonical output.
        .systemLibrary(
            name: "CJansson",
            path: "Conformance/CJansson",
            pkgConfig: "jansson",
            providers: [.apt(["libjansson-dev"])]
        ),
        /// Replays golden transcripts against any base URL and judges the answers (docs/golden-format.md).
        .target(
            name: "PortenConformance",
            dependencies: ["CCurl", "CJansson"],
            path: "Conformance/PortenConformance",
            swiftSettings: swiftSettings
        ),
        /// The golden transcripts, shipped as resources beside `porten-conformance`.
        .target(
            name: "PortenGoldens",
            path: "Golden",
            exclude: ["README.md"],
            resources: [.copy("chat"), .copy("embeddings"), .copy("errors"), .copy("models"), .copy("policy")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ConformanceCLI",
            dependencies: [
                "PortenConformance",
                "PortenGoldens",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Conformance/ConformanceCLI",
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "PortenConformanceTests",
            dependencies: ["PortenConformance"],
            path: "Tests/PortenConformanceTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OpenAIWireTests",
            dependencies: ["OpenAIWire"],
            path: "Tests/OpenAIWireTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PortenHubTests",
            dependencies: [
                "PortenHub", "PortenNode", "OpenAIWire", "NodeProtocol",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/PortenHubTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PortenRedisTests",
            dependencies: [
                "PortenRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/PortenRedisTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PortenNodeTests",
            dependencies: [
                "PortenNode", "OpenAIWire", "NodeProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/PortenNodeTests",
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
