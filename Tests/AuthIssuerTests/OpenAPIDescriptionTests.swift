import Foundation
import GatehouseTestSupport
import Testing

extension AuthIssuerEndToEndTests {
    /// docs/openapi/auth-issuer.yaml describes the running server: the same paths and methods, each answered.
    @Suite(.timeLimit(.minutes(1)))
    struct OpenAPIDescriptionTests {
        /// The `paths` of the description and the methods under each, upper-case.
        static func describedOperations() throws -> [String: Set<String>] {
            var operations: [String: Set<String>] = [:]
            for (path, method, _) in try OpenAPIDescription.load("docs/openapi/auth-issuer.yaml").operations {
                operations[path, default: []].insert(method.uppercased())
            }
            return operations
        }

        @Test func everyDescribedOperationIsServedAndNothingElse() async throws {
            let operations = try Self.describedOperations()
            #expect(
                operations == [
                    "/oauth/token": ["POST"], "/oauth/revoke": ["POST"], "/.well-known/jwks.json": ["GET"],
                    "/.well-known/openid-configuration": ["GET"], "/.well-known/oauth-authorization-server": ["GET"],
                ]
            )
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            let issuer = try await AuthIssuerProcess(folder: folder, redisPort: redis.port)
            defer { issuer.process.stop() }
            for (path, methods) in operations {
                for method in methods {
                    let response = method == "POST" ? try await issuer.post(path, form: []) : try httpRequest(port: issuer.httpPort, method: method, path: path)
                    #expect(response.status != 404 && response.status < 500, "\(method) \(path): \(response.status) \(response.body)")
                    #expect(response.headers["content-type"]?.contains("json") == true, "\(method) \(path) answers JSON")
                }
            }
        }
    }
}
