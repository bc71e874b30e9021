import ArgumentParser
import AuthIssuerCore
import Foundation
import GatehouseCommand

/// `auth-issuer`: OAuth 2.0 tokens, signing keys and revocation; and the CLI that manages them.
@main
struct AuthIssuerCommand: AsyncParsableCommand {
    static let configuration = ServeCommand<AuthIssuerService>.executable(managedBy: [Users.self, Clients.self, Keys.self, Revoke.self])
}

extension ConfigOptions<AuthIssuerService> {
    /// Opens the database and reads the token policy, for the management subcommands.
    func openStore() async throws -> (AuthStore, TokenPolicy) {
        try await self.load { document in
            let path = try AuthIssuerConfiguration.readStoragePath(&document)
            let policy = try TokenPolicy(reading: &document, defaultIssuer: "http://127.0.0.1:\(AuthIssuerConfiguration.defaultHTTPPort)")
            return (try await AuthStore(path: path), policy)
        }
    }
}

/// A password from the named environment variable, or the first line of standard input.
func readPassword(environmentVariable: String?) throws -> String {
    if let name = environmentVariable {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw ValidationError("the environment variable \(name) is not set")
        }
        return value
    }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw ValidationError("no password on standard input (or use --password-env VARIABLE)")
    }
    return line
}

/// Splits a comma-separated option into names, validating each.
func names(_ list: String, field: String) throws -> [String] {
    let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    for name in names { try PrincipalName.validate(name, field: field) }
    return names
}

/// Prints rows as aligned columns.
func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    for row in [header] + rows {
        print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
    }
}

/// A time in milliseconds since the epoch, as ISO 8601.
func isoTime(_ milliseconds: Int64?) -> String {
    guard let milliseconds else { return "-" }
    return ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
}
