@testable import AuthIssuerCore
import EdgeRouterCore
import GatehouseAuthAPI
import GatehouseRPC
import GatehouseSQLite
import Logging

/// The issuer's `auth.RevocationState` served by its own code over a real RPC server in this process, and
/// an RPC client of it, as an edge router has.
enum IssuerRevocationRPC {
    static let secret = "revocation-state-test-secret-0123456789"

    /// Runs `body` with a client of an RPC server that serves `handlers` (by default the issuer's
    /// `RevocationStateService` over `store`); stops both afterwards.
    static func with<T: Sendable>(
        store: AuthStore, handlers: RPCHandlerRegistry? = nil, maximumFrameBytes: Int = 4 * 1024 * 1024,
        _ body: @Sendable (RPCClient, RPCClientConfiguration) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "test.revocation-rpc")
        logger.logLevel = .critical
        let secret = try RPCSecret(Self.secret)
        let served = handlers ?? RevocationStateService(store: store, maximumFrameBytes: maximumFrameBytes).rpcHandlers
        let server = RPCServer(configuration: RPCServerConfiguration(secret: secret, maximumFrameBytes: maximumFrameBytes), handlers: served, logger: logger)
        return try await withThrowingTaskGroup { group in
            group.addTask { try await server.run() }
            let configuration = RPCClientConfiguration(
                host: "127.0.0.1", port: try await server.localPort(), secret: secret, maximumFrameBytes: maximumFrameBytes,
                connectTimeout: .seconds(10), defaultCallTimeout: .seconds(20)
            )
            let client = RPCClient(configuration: configuration, logger: logger)
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            return try await body(client, configuration)
        }
    }
}

extension AuthStore {
    /// Revokes many access tokens in one transaction, through the store's own insertion (a test's quick
    /// way to a large revocation state).
    func revokeAccessTokens(_ jtis: [String], expiresAt: Int64) throws(AuthStoreError) {
        try self.transaction { connection throws(SQLiteError) in
            for jti in jtis { _ = try Self.insertRevocation(.token(jti: jti, expiresAt: expiresAt), connection: connection) }
        }
    }
}
