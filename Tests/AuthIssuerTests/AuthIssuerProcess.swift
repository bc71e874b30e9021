import Foundation
import GatehouseTestSupport
import Testing

let authSecret = "auth-test-secret-0123456789abcd"
let testIssuer = "https://auth.gatehouse.test"
let adminPassword = "bootstrap-admin-password"

/// The `auth-issuer` executable as a child process with JSON logs on ports it chose itself, and its CLI.
final class AuthIssuerProcess: Sendable {
    let process: ServiceProcess
    let httpPort: Int
    let rpcPort: Int
    let adminPort: Int
    /// The fields of its `auth issuer listening` log line.
    let listening: [String: any Sendable]
    let environment: [String: String]
    let folder: TestFolder

    /// Starts `auth-issuer` on `folder/auth/auth.sqlite` and waits until it listens. Without a limiter port it
    /// points at a closed port, so logins are not throttled (the issuer fails open).
    init(folder: TestFolder, redisPort: Int, limiterPort: Int? = nil, environment: [String: String] = [:]) async throws {
        var variables = [
            "AUTH_RPC_SECRET": authSecret,
            "AUTH_RPC_PORT": "0",
            "AUTH_ADMIN_PORT": "0",
            "AUTH_HTTP_PORT": "0",
            "AUTH_REDIS_PORT": "\(redisPort)",
            "AUTH_LIMITER_PORT": "\(try limiterPort ?? freeLoopbackPort())",
            "AUTH_LIMITER_CONNECT_TIMEOUT_MS": "200",
            "AUTH_STORAGE_PATH": folder.path("auth/auth.sqlite"),
            "AUTH_LOG_FORMAT": "json",
            "AUTH_PASSWORDS_BCRYPT_COST": "4",
            "AUTH_TOKENS_ISSUER": testIssuer,
            "AUTH_EVENTS_POLL_INTERVAL_MS": "50",
            "AUTH_BOOTSTRAP_ADMIN_PASSWORD": adminPassword,
        ]
        variables.merge(environment) { $1 }
        self.environment = variables
        self.folder = folder
        self.process = try ServiceProcess.start(product: "auth-issuer", environment: variables, logPath: folder.path("auth-issuer.log"))
        let listening = try await self.process.waitForLog(message: "auth issuer listening")
        self.httpPort = try #require(Int(listening["http.port"] as? String ?? ""))
        self.rpcPort = try #require(Int(listening["rpc.port"] as? String ?? ""))
        self.adminPort = try #require(Int(listening["admin.port"] as? String ?? ""))
        self.listening = listening.compactMapValues { $0 as? String }
    }

    /// Runs a management subcommand against the same database; returns its exit and output.
    func cli(_ arguments: [String], environment: [String: String] = [:]) async throws -> (exit: ProcessExit, output: String) {
        let logPath = self.folder.path("cli-\(UUID().uuidString).log")
        let command = try ServiceProcess.start(product: "auth-issuer", arguments: arguments, environment: self.environment.merging(environment) { $1 }, logPath: logPath)
        let exit = try await command.waitForExit(timeout: .seconds(30))
        return (exit, command.log)
    }

    /// Adds a client with the CLI and returns its generated secret.
    func addClient(_ id: String, scopes: String = "read", roles: String = "service") async throws -> String {
        let (exit, output) = try await self.cli(["clients", "add", id, "--scopes", scopes, "--roles", roles])
        #expect(exit == .exited(0), "\(output)")
        let line = try #require(output.split(separator: "\n").first { $0.hasPrefix("client_secret=") })
        return String(line.dropFirst("client_secret=".count))
    }

    /// `POST` of a form to the public port, sent off the cooperative threads (the issuer may ask a limiter
    /// running in the test process before it answers).
    func post(_ path: String, form: [(String, String)], headers: [(String, String)] = []) async throws -> HTTPProbeResponse {
        let body = form.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
        return try await httpRequestOffPool(
            port: self.httpPort, method: "POST", path: path,
            headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers, body: Array(body.utf8)
        )
    }

    /// A password grant for a user; the parsed JSON answer.
    func login(_ username: String, _ password: String, extra: [(String, String)] = []) async throws -> (HTTPProbeResponse, [String: Any]) {
        let response = try await self.post("/oauth/token", form: [("grant_type", "password"), ("username", username), ("password", password)] + extra)
        return (response, response.json)
    }

    /// The admin server's `/metrics` text.
    func metrics() throws -> String {
        try httpGet(port: self.adminPort, path: "/metrics").body
    }

    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

extension HTTPProbeResponse {
    /// The body as a JSON object (empty when it is not one).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(self.body.utf8))) as? [String: Any] ?? [:]
    }
}

/// A limiter policy file's first lines: the policies the issuer charges failed logins to, 5 a minute per
/// username and 100 a minute per address; a test adds further entries of the `policies` list.
let failedLoginPolicies = """
    replicas: 1
    policies:
      - name: login_username
        limit: 5
        period: 1m
        key: [sub]
      - name: login_ip
        limit: 100
        period: 1m
        key: [ip]

    """

/// Runs the real limiter (the `limiter` executable, a child process) with a policy file and the issuer's
/// secret for the length of `body`, given its RPC port.
func withLimiter(folder: TestFolder, redisPort: Int, policies: String, _ body: (Int) async throws -> Void) async throws {
    try await withLimiterChildProcess(folder: folder, redisPort: redisPort, policies: policies, secret: authSecret, body)
}

/// HTTP Basic credentials.
func basicAuthorization(_ id: String, _ secret: String) -> (String, String) {
    ("Authorization", "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString())
}

/// Verifies a token with PyJWT, an independent JWT library, given only the JWKS URL.
/// - Returns: The subject and the kid PyJWT used.
func verifyWithPyJWT(token: String, jwksURL: String) async throws -> (status: Int32, output: String) {
    let script = """
        import jwt, sys
        url, token, audience, issuer = sys.argv[1:5]
        key = jwt.PyJWKClient(url, cache_keys=False).get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["ES256", "EdDSA"], audience=audience, issuer=issuer)
        print(claims["sub"], key.key_id)
        """
    let run = try await CommandRun.run("/usr/bin/env", ["python3", "-c", script, jwksURL, token, "gatehouse", testIssuer])
    let status: Int32 = run.exit == .exited(0) ? 0 : 1
    return (status, (run.standardOutput + run.standardError).trimmingCharacters(in: .whitespacesAndNewlines))
}

/// Every end-to-end suite of the auth issuer runs inside this one, one test at a time: each starts Redis,
/// the issuer (and sometimes the limiter and PyJWT), and running several at once beside the rest of the
/// test run overloads a 2-core machine until unrelated timing assertions fail.
///
/// The issuer stays a child process (``AuthIssuerProcess``) because these suites check what only a process
/// shows: its own `/metrics` (metrics are process-wide, and the test process holds other services), its log
/// (what an operator reads, and that no password or token is ever in it), its start-up line, and the CLI
/// run beside it against the same database. The limiter it asks is only a peer and runs in process.
@Suite(.serialized)
enum AuthIssuerEndToEndTests {}
