import Foundation
import GatehouseTestSupport
import Testing

extension AuthIssuerEndToEndTests {
    /// docs/openapi/auth-issuer.yaml describes the running server: the same paths and methods, each answered.
    @Suite(.timeLimit(.minutes(1)))
    struct OpenAPIDescriptionTests {
        /// The `paths` of the description and the methods under each, read line by line (two-space YAML indents).
        static func describedOperations() throws -> [String: Set<String>] {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let text = try String(contentsOf: root.appendingPathComponent("docs/openapi/auth-issuer.yaml"), encoding: .utf8)
            var operations: [String: Set<String>] = [:]
            var inPaths = false
            var current: String?
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("paths:") { inPaths = true; continue }
                guard inPaths else { continue }
                if let first = line.first, first != " ", first != "#" { break }
                if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                    let path = String(line.dropFirst(2).dropLast()).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
                    current = path
                    operations[path] = []
                } else if let path = current, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                    let method = line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()
                    if ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"].contains(method) { operations[path]?.insert(method) }
                }
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
                    let response = method == "POST" ? try issuer.post(path, form: []) : try httpRequest(port: issuer.httpPort, method: method, path: path)
                    #expect(response.status != 404 && response.status < 500, "\(method) \(path): \(response.status) \(response.body)")
                    #expect(response.headers["content-type"]?.contains("json") == true, "\(method) \(path) answers JSON")
                }
            }
        }
    }
}
