// swift-tools-version:6.2
import PackageDescription

/// One set of compiler settings for every target: Swift 6 mode with strict concurrency.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Gatehouse",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "GatehouseRPC", targets: ["GatehouseRPC"]),
        .library(name: "GatehouseRedis", targets: ["GatehouseRedis"]),
        .library(name: "GatehouseConfig", targets: ["GatehouseConfig"]),
        .library(name: "GatehouseObservability", targets: ["GatehouseObservability"]),
        .library(name: "GatehouseLimiterAPI", targets: ["GatehouseLimiterAPI"]),
        .library(name: "GatehouseFleet", targets: ["GatehouseFleet"]),
        .library(name: "GatehouseSQLite", targets: ["GatehouseSQLite"]),
        .library(name: "GatehouseEvents", targets: ["GatehouseEvents"]),
        .library(name: "GatehouseDataAPI", targets: ["GatehouseDataAPI"]),
        .library(name: "GatehouseAuthAPI", targets: ["GatehouseAuthAPI"]),
        .executable(name: "limiter", targets: ["limiter"]),
        .executable(name: "data-service", targets: ["data-service"]),
        .executable(name: "auth-issuer", targets: ["auth-issuer"]),
        .executable(name: "edge-router", targets: ["edge-router"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", exact: "1.35.2"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        // HTTP for the auth issuer; without swift-configuration support, which Gatehouse does not use.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", exact: "2.5.0"),
        .package(url: "https://github.com/vapor/jwt-kit", exact: "5.8.0"),
    ],
    targets: [
        // MARK: C libraries from Debian
        .systemLibrary(
            name: "CHiredis",
            path: "Shared/CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            path: "Shared/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),

        // MARK: Shared libraries
        .target(
            name: "GatehouseNIOSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Shared/NIOSupport",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatehouseRPC",
            dependencies: [
                "GatehouseConfig",
                "GatehouseNIOSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/RPC",
            exclude: ["Protos"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatehouseRedis",
            dependencies: [
                "CHiredis",
                "GatehouseConfig",
                "GatehouseNIOSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/Redis",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatehouseSQLite",
            dependencies: ["CSQLite"],
            path: "Shared/SQLite",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatehouseConfig",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Shared/Config",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatehouseObservability",
            dependencies: [
                "GatehouseConfig",
                "GatehouseNIOSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Shared/Observability",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatehouseCommand",
            dependencies: [
                "GatehouseConfig",
                "GatehouseObservability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/Command",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "GatehouseLimiterAPI",
            dependencies: [
                "GatehouseNIOSupport",
                "GatehouseRPC",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Shared/LimiterAPI",
            exclude: ["Protos"],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "GatehouseLimiterPolicies",
            dependencies: [
                "GatehouseConfig",
                "GatehouseLimiterAPI",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Shared/LimiterPolicies",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "GatehouseFleet",
            dependencies: [
                "GatehouseRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/Fleet",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "GatehouseEvents",
            dependencies: [
                "GatehouseNIOSupport",
                "GatehouseRedis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/Events",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "GatehouseDataAPI",
            dependencies: [
                "GatehouseEvents",
                "GatehouseRPC",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Shared/DataAPI",
            exclude: ["Protos"],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "GatehouseAuthAPI",
            dependencies: [
                "GatehouseConfig",
                "GatehouseEvents",
                "GatehouseRPC",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Shared/AuthAPI",
            exclude: ["Protos"],
            swiftSettings: swiftSettings
        ),

        // MARK: Services' libraries
        .target(
            name: "LimiterCore",
            dependencies: [
                "GatehouseFleet",
                "GatehouseNIOSupport",
                "GatehouseLimiterPolicies",
                "GatehouseConfig",
                "GatehouseLimiterAPI",
                "GatehouseRPC",
                "GatehouseRedis",
                "GatehouseObservability",
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Services/Limiter/Core",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "limiter",
            dependencies: [
                "LimiterCore",
                "GatehouseCommand",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/Limiter/Main",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "DataServiceCore",
            dependencies: [
                "GatehouseSQLite",
                "GatehouseConfig",
                "GatehouseDataAPI",
                "GatehouseEvents",
                "GatehouseNIOSupport",
                "GatehouseObservability",
                "GatehouseRPC",
                "GatehouseRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Services/DataService/Core",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "data-service",
            dependencies: [
                "DataServiceCore",
                "GatehouseCommand",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/DataService/Main",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "AuthIssuerCore",
            dependencies: [
                "GatehouseAuthAPI",
                "GatehouseConfig",
                "GatehouseEvents",
                "GatehouseLimiterAPI",
                "GatehouseNIOSupport",
                "GatehouseObservability",
                "GatehouseRPC",
                "GatehouseRedis",
                "GatehouseSQLite",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // The size of each revocation in a page of `auth.RevocationState`.
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Services/AuthIssuer/Core",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "auth-issuer",
            dependencies: [
                "AuthIssuerCore",
                "GatehouseCommand",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/AuthIssuer/Main",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "EdgeRouterCore",
            dependencies: [
                "GatehouseFleet",
                "GatehouseNIOSupport",
                "GatehouseLimiterPolicies",
                "GatehouseAuthAPI",
                "GatehouseDataAPI",
                "GatehouseEvents",
                "GatehouseConfig",
                "GatehouseLimiterAPI",
                "GatehouseObservability",
                "GatehouseRPC",
                "GatehouseRedis",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Services/EdgeRouter/Core",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "edge-router",
            dependencies: [
                "EdgeRouterCore",
                "GatehouseCommand",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/EdgeRouter/Main",
            swiftSettings: swiftSettings
        ),

        // MARK: Benchmarks (not part of the test run)
        .executableTarget(
            name: "GatehouseBench",
            dependencies: [
                "GatehouseNIOSupport",
                "GatehouseRPC",
                "GatehouseRedis",
                "GatehouseLimiterAPI",
                "GatehouseDataAPI",
                "LimiterCore",
                "GatehouseLimiterPolicies",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/GatehouseBench",
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .target(
            name: "GatehouseTestSupport",
            dependencies: [
                "GatehouseConfig",
                "GatehouseEvents",
                // Runs a service in process as its executable wires it (withInProcessService).
                "GatehouseObservability",
                .product(name: "Prometheus", package: "swift-prometheus"),
                "GatehouseRPC",
                "GatehouseRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Tests/GatehouseTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatehouseRPCTests",
            dependencies: [
                "GatehouseRPC",
                "GatehouseConfig",
                "GatehouseTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatehouseRedisTests",
            dependencies: [
                "GatehouseRedis",
                "GatehouseConfig",
                "GatehouseTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatehouseNIOSupportTests",
            dependencies: [
                "GatehouseNIOSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LimiterCoreTests",
            dependencies: [
                // The service started in process (withInProcessService).
                "GatehouseObservability",
                "GatehouseLimiterPolicies",
                "LimiterCore",
                "GatehouseRedis",
                "GatehouseTestSupport",
                // LimiterServiceWiringTests call the limiter they start in process.
                "GatehouseLimiterAPI", "GatehouseRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LimiterServiceTests",
            dependencies: [
                // The executable these tests run as child processes, and the service they run in process.
                "limiter",
                "LimiterCore",
                "GatehouseLimiterAPI",
                "GatehouseRPC",
                "GatehouseRedis",
                "GatehouseTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatehouseSQLiteTests",
            dependencies: ["GatehouseSQLite", "GatehouseTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DataServiceCoreTests",
            dependencies: [
                // The service started in process (withInProcessService).
                "GatehouseObservability",
                "GatehouseEvents",
                "DataServiceCore", "GatehouseDataAPI", "GatehouseRedis", "GatehouseSQLite", "GatehouseTestSupport",
                // DocumentWireSizeTests serialize the RPC envelope around documents.
                "GatehouseRPC", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DataServiceTests",
            dependencies: [
                "GatehouseEvents",
                // The executable these tests run as child processes (and its seed and backup commands), and
                // the service they run in process.
                "data-service",
                "DataServiceCore",
                "GatehouseDataAPI",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                "GatehouseRPC",
                "GatehouseRedis",
                "GatehouseTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuthIssuerCoreTests",
            dependencies: [
                "GatehouseEvents",
                "AuthIssuerCore",
                "GatehouseConfig",
                "GatehouseObservability",
                "GatehouseRPC",
                // The publisher on real Redis, and a database of an older schema, in the revocation tests.
                "GatehouseRedis",
                "GatehouseSQLite",
                "GatehouseAuthAPI",
                "GatehouseTestSupport",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuthIssuerTests",
            dependencies: [
                "GatehouseEvents",
                // The executables these tests run as child processes: the issuer, and the limiter it asks.
                "auth-issuer",
                "limiter",
                "GatehouseAuthAPI",
                "GatehouseRPC",
                "GatehouseTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeRouterCoreTests",
            dependencies: [
                // The service started in process (withInProcessService).
                "GatehouseObservability",
                "GatehouseEvents",
                "GatehouseRPC",
                "GatehouseRedis",
                "GatehouseLimiterAPI",
                "GatehouseDataAPI",
                "GatehouseLimiterPolicies",
                "EdgeRouterCore",
                "GatehouseAuthAPI",
                "GatehouseTestSupport",
                // The gateway tests whose limits bind ask the real limiter executable as a child process; the
                // edge against the other services' own code is tested in EdgeRouterTests.
                "limiter",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeRouterTests",
            dependencies: [
                // The executables these tests run as child processes: the edges, the limiters under load, the
                // data service's seed and the issuer's CLI.
                "edge-router",
                "auth-issuer",
                "data-service",
                "limiter",
                // The services GatehouseSystem runs in process.
                "LimiterCore", "DataServiceCore", "AuthIssuerCore", "GatehouseObservability", "GatehouseEvents",
                "GatehouseTestSupport",
                // The edge's clients against the other services' own code: tokens minted by the issuer's signer,
                // the revocation state served by its RPC service, the edge limiter asking the limiter's decider.
                "EdgeRouterCore", "GatehouseAuthAPI", "GatehouseLimiterAPI", "GatehouseLimiterPolicies", "GatehouseRedis",
                "GatehouseSQLite",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                // LargeDocumentSystemTests write their documents straight to the data service.
                "GatehouseRPC", "GatehouseDataAPI",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeploymentTests",
            dependencies: [
                // The executables that the compose file's configuration is checked with and that the
                // local run (scripts/run) starts.
                "edge-router",
                "auth-issuer",
                "data-service",
                "limiter",
                "GatehouseTestSupport",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatehouseEventsTests",
            dependencies: [
                "GatehouseEvents",
                "GatehouseRedis",
                "GatehouseTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatehouseConfigTests",
            dependencies: ["GatehouseConfig", "GatehouseTestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatehouseObservabilityTests",
            dependencies: [
                "GatehouseObservability",
                "GatehouseConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
