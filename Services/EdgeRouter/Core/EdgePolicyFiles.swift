import GatehouseConfig
import GatehouseLimiterPolicies
import Synchronization

/// The route file and the limiter's policy file as the edge uses them together, which must agree: every
/// policy a tier of the route file names, and `auth.failure_policy`, must be in the policy file (a name the
/// limiter does not know would fail every check of that tier), and a policy keyed by `api_key` needs
/// `policies.api_key_header`.
///
/// Both files are loaded and checked at start: a mismatch stops the start (status 78) naming the route
/// file's line, the tier and the policy. Each file is reloaded on its own (`SIGHUP`, a change): a new file
/// that does not agree with the other one in force is refused, and the pair in force stays. When the other
/// file changed on disk along with it and the two new files agree, both are put in force, so an edit of
/// both files applies whichever is reloaded first.
package final class EdgePolicyFiles: Sendable {
    /// The route table and the policies in force together.
    package struct InForce: Sendable {
        /// The routes.
        package let routes: RouteTable
        /// The policies.
        package let policies: PolicyCatalog
    }

    private let routesFile: String
    private let policiesFile: String
    private let failurePolicy: String?
    private let apiKeyHeader: String?
    private let pair: Mutex<InForce>

    /// Loads both files and checks that they agree.
    /// - Parameters:
    ///   - routesFile: The route file (`routes.file`).
    ///   - policiesFile: The policy file (`policies.file`).
    ///   - failurePolicy: `auth.failure_policy`, `nil` when `none`.
    ///   - apiKeyHeader: `policies.api_key_header`, `nil` when unset.
    /// - Throws: ``RouteFileError``, `PolicyFileError` or ``EdgePolicyFilesError``, each listing every problem.
    package init(routesFile: String, policiesFile: String, failurePolicy: String?, apiKeyHeader: String?) throws {
        self.routesFile = routesFile
        self.policiesFile = policiesFile
        self.failurePolicy = failurePolicy
        self.apiKeyHeader = apiKeyHeader
        let routes = try RouteTable(contentsOf: routesFile)
        let policies = try PolicyCatalog.load(path: policiesFile)
        let problems = Self.problems(routes: routes, policies: policies, failurePolicy: failurePolicy, apiKeyHeader: apiKeyHeader)
        guard problems.isEmpty else { throw EdgePolicyFilesError(problems: problems) }
        self.pair = Mutex(InForce(routes: routes, policies: policies))
    }

    /// The pair in force.
    package var inForce: InForce {
        self.pair.withLock { $0 }
    }

    /// Reads the route file again and, if it agrees with the policies in force (or with the policy file on
    /// disk, which then comes into force with it), puts it in force.
    /// - Parameter apply: Puts a new pair to use; called while no other reload can run.
    /// - Returns: The pair now in force.
    /// - Throws: ``RouteFileError`` for a bad file, ``EdgePolicyFilesError`` for one that names a policy the
    ///   policy file lacks; the pair in force stays.
    @discardableResult
    package func reloadRoutes(apply: (InForce) -> Void) throws -> InForce {
        let routes = try RouteTable(contentsOf: self.routesFile)
        return try self.pair.withLock { pair throws(EdgePolicyFilesError) -> InForce in
            let problems = self.problems(routes: routes, policies: pair.policies)
            if problems.isEmpty {
                pair = InForce(routes: routes, policies: pair.policies)
            } else if let policies = try? PolicyCatalog.load(path: self.policiesFile), self.problems(routes: routes, policies: policies).isEmpty {
                pair = InForce(routes: routes, policies: policies)
            } else {
                throw EdgePolicyFilesError(problems: problems)
            }
            apply(pair)
            return pair
        }
    }

    /// Reads the policy file again and, if the routes in force (or the route file on disk, which then comes
    /// into force with it) agree with it, puts it in force.
    /// - Parameter apply: Puts a new pair to use; called while no other reload can run.
    /// - Returns: The pair now in force.
    /// - Throws: `PolicyFileError` for a bad file, ``EdgePolicyFilesError`` for one that lacks a policy the
    ///   routes name; the pair in force stays.
    @discardableResult
    package func reloadPolicies(apply: (InForce) -> Void) throws -> InForce {
        let policies = try PolicyCatalog.load(path: self.policiesFile)
        return try self.pair.withLock { pair throws(EdgePolicyFilesError) -> InForce in
            let problems = self.problems(routes: pair.routes, policies: policies)
            if problems.isEmpty {
                pair = InForce(routes: pair.routes, policies: policies)
            } else if let routes = try? RouteTable(contentsOf: self.routesFile), self.problems(routes: routes, policies: policies).isEmpty {
                pair = InForce(routes: routes, policies: policies)
            } else {
                throw EdgePolicyFilesError(problems: problems)
            }
            apply(pair)
            return pair
        }
    }

    private func problems(routes: RouteTable, policies: PolicyCatalog) -> [String] {
        Self.problems(routes: routes, policies: policies, failurePolicy: self.failurePolicy, apiKeyHeader: self.apiKeyHeader)
    }

    /// Why a route table and a policy catalog cannot be used together, one line each; empty when they agree.
    static func problems(routes: RouteTable, policies: PolicyCatalog, failurePolicy: String?, apiKeyHeader: String?) -> [String] {
        var problems: [String] = []
        let names = policies.policies.keys.sorted()
        func hint(_ name: String) -> String {
            EditDistance.closest(to: name, among: names).map { "; did you mean \"\($0)\"?" } ?? ""
        }
        for reference in routes.policyReferences where policies.policies[reference.policy] == nil {
            problems.append(
                "\(reference.place): tier \"\(reference.tier)\" names the policy \"\(reference.policy)\", which the policy file "
                    + "\(policies.source) does not define\(hint(reference.policy))"
            )
        }
        if let failurePolicy, policies.policies[failurePolicy] == nil {
            problems.append(
                "auth.failure_policy: the policy \"\(failurePolicy)\" is not in the policy file \(policies.source)\(hint(failurePolicy)); "
                    + "define it there, or set auth.failure_policy to none"
            )
        }
        if apiKeyHeader == nil {
            for name in names where policies.policies[name]!.key.contains(.apiKey) {
                let line = policies.lines[name].map { ":\($0)" } ?? ""
                problems.append(
                    "\(policies.source)\(line): policy \"\(name)\" is keyed by api_key, but the edge has no policies.api_key_header "
                        + "(the request header that carries the API key): set it, or take api_key out of the policy's key"
                )
            }
        }
        return problems
    }
}

/// Why the route file and the policy file cannot be used together: every problem, one per line.
package struct EdgePolicyFilesError: Error, Sendable, CustomStringConvertible {
    /// The problems.
    package let problems: [String]

    /// One problem per line.
    package var description: String {
        self.problems.joined(separator: "\n")
    }
}
