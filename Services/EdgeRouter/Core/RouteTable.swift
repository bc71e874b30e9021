import Foundation
import GatehouseConfig
import Yams

/// The edge router's routes, read from the route file (docs/configuration.md, "Edge route file"):
///
/// ```yaml
/// routes:
///   - path: /v1/{collection}/{id}
///     methods: [GET]
///     auth: optional                # none | optional | required (the default)
///     cache: {ttl: 30s, scope: public, stale_while_revalidate: 10s, stale_if_error: 5m}
///   - path: /v1/{collection}/{id}
///     methods: [PUT, DELETE]
///     scopes: [write]
///     owner_only: true
/// tiers:                            # caller class -> limiter policies; a route may have its own
///   anonymous: [public]
///   user: [user]
///   admin: [admin]
/// ```
///
/// Reading is strict like every Gatehouse file: unknown keys (with a suggestion), bad values, a route
/// that repeats another's path and method, and combinations that make no sense (caching a write,
/// `scope: user` without authentication) are all reported at once with their lines.
package struct RouteTable: Sendable, Equatable {
    /// What a request's method and path found.
    package enum Match: Sendable, Equatable {
        /// A route, with the path's parameters.
        case route(EdgeRoute, parameters: RouteParameters)
        /// The path has routes, none for this method.
        case methodNotAllowed(allowed: [String])
        /// No route has this path.
        case notFound
    }

    /// The routes, in file order.
    package let routes: [EdgeRoute]
    /// The routes' templates and methods made ready for matching, in the same order.
    private let matchers: [RouteTemplateMatcher]
    /// Every policy a tier names, with where: checked against the policy file (``EdgePolicyFiles``).
    let policyReferences: [PolicyReference]

    /// The parameter names a template may capture.
    package static let parameterNames: Set<String> = ["collection", "id"]
    /// The methods a route may serve.
    package static let methods = ["GET", "POST", "PUT", "DELETE"]
    /// The methods a route with an HTTP `upstream:` may serve.
    package static let upstreamMethods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    private static let fileKeys = ["routes", "tiers"]
    static let routeKeys = ["path", "methods", "auth", "roles", "scopes", "owner_only", "cache", "tiers", "cors", "upstream"]
    static let cacheKeys = ["ttl", "scope", "stale_while_revalidate", "stale_if_error"]

    /// Finds the route of a request. The most specific template that matches the path decides (more literal
    /// segments win: `/v1/me/{collection}` over `/v1/{collection}/{id}`); among equally specific ones,
    /// the first in file order that serves the method.
    /// - Parameters:
    ///   - method: The method; `HEAD` matches `GET` routes.
    ///   - path: The path, without the query.
    package func match(method: String, path: String) -> Match {
        var path = path
        return path.withUTF8 { self.match(method: method, path: $0) }
    }

    private func match(method: String, path: UnsafeBufferPointer<UInt8>) -> Match {
        let wanted = RouteTemplateMatcher.methodBit(method == "HEAD" ? "GET" : method)
        let first = path.firstIndex(of: UInt8(ascii: "/")).map { $0 + 1 }
        // The most specific templates that match, and the first of them serving the method; a less specific
        // template than one already found cannot change the answer.
        var bestSpecificity = -1
        var found: Int?
        for index in self.matchers.indices {
            let specificity = self.matchers[index].specificity
            guard specificity >= bestSpecificity, self.matchers[index].matches(path, first: first) else { continue }
            if specificity > bestSpecificity {
                bestSpecificity = specificity
                found = self.matchers[index].serves(wanted) ? index : nil
            } else if found == nil, self.matchers[index].serves(wanted) {
                found = index
            }
        }
        if let found, let first {
            return .route(self.routes[found], parameters: self.matchers[found].parameters(of: path, first: first))
        }
        guard bestSpecificity >= 0 else { return .notFound }
        var allowed = Set<String>()
        for index in self.matchers.indices where self.matchers[index].specificity == bestSpecificity && self.matchers[index].matches(path, first: first) {
            allowed.formUnion(self.routes[index].methods)
        }
        if allowed.contains("GET") { allowed.insert("HEAD") }
        return .methodNotAllowed(allowed: allowed.sorted())
    }

    /// Reads a route file.
    /// - Throws: ``RouteFileError`` listing every problem.
    package init(contentsOf path: String) throws(RouteFileError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw RouteFileError(problems: ["\(path): cannot read the route file: \(error.localizedDescription)"])
        }
        try self.init(yaml: text, source: path)
    }

    /// Parses route-file text.
    /// - Parameters:
    ///   - yaml: The text.
    ///   - source: Its name in problems.
    /// - Throws: ``RouteFileError`` listing every problem.
    package init(yaml: String, source: String) throws(RouteFileError) {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else { throw RouteFileError(problems: ["\(source): the file is empty"]) }
            root = node
        } catch let error as RouteFileError {
            throw error
        } catch {
            throw RouteFileError(problems: ["\(source): not valid YAML: \(error)"])
        }
        var reader = YAMLNodeReader(source: source)
        let top = reader.values(root, field: "", valid: Self.fileKeys) ?? [:]
        let defaultTiers = top["tiers"].flatMap { reader.tiers($0, field: "tiers") } ?? ([], [])
        var references = defaultTiers.references
        var routes: [EdgeRoute] = []
        if let list = top["routes"].flatMap({ reader.sequence($0, field: "routes") }) {
            for (index, node) in list.enumerated() {
                let field = "routes[\(index)]"
                guard let (route, routeReferences) = reader.route(node, field: field, defaultTiers: defaultTiers.tiers) else { continue }
                references += routeReferences
                if let clash = routes.first(where: { $0.path == route.path && !$0.methods.isDisjoint(with: route.methods) }) {
                    reader.problem(
                        at: node, field: field,
                        "\(clash.methods.intersection(route.methods).sorted().joined(separator: ", ")) \(route.path) is already routed by an earlier route"
                    )
                    continue
                }
                routes.append(route)
            }
        }
        if top["routes"] == nil { reader.problem("\(source): the file defines no 'routes'") }
        guard reader.problems.isEmpty else { throw RouteFileError(problems: reader.problems) }
        self.routes = routes
        self.matchers = routes.map(RouteTemplateMatcher.init)
        self.policyReferences = references
    }
}

/// Where a tier of the route file names a policy.
struct PolicyReference: Sendable, Equatable {
    /// The policy's name.
    let policy: String
    /// The tier's name.
    let tier: String
    /// The file, line and field, e.g. `routes.yaml:23: routes[2].tiers.user`.
    let place: String
}

/// Why a route file was refused: every problem, each with file, line and field.
package struct RouteFileError: Error, Sendable, CustomStringConvertible {
    /// The problems, one per line of the description.
    package let problems: [String]

    /// One problem per line.
    package var description: String {
        self.problems.joined(separator: "\n")
    }
}

extension YAMLNodeReader {
    mutating func route(_ node: Node, field: String, defaultTiers: [(name: String, policies: [String])]) -> (EdgeRoute, [PolicyReference])? {
        guard let values = self.values(node, field: field, valid: RouteTable.routeKeys) else { return nil }
        let before = self.problems.count
        let path = self.required(values["path"], at: node, field: "\(field).path").flatMap { self.routePath($0, field: "\(field).path") }
        let methods = self.required(values["methods"], at: node, field: "\(field).methods").flatMap { self.methods($0, field: "\(field).methods") }
        let authentication = values["auth"].flatMap { self.choice($0, field: "\(field).auth", as: EdgeRoute.Authentication.self) } ?? .required
        let roles = values["roles"].flatMap { self.stringList($0, field: "\(field).roles") } ?? []
        let scopes = values["scopes"].flatMap { self.stringList($0, field: "\(field).scopes") } ?? []
        // A scope goes into `WWW-Authenticate` (insufficient_scope) as it is: RFC 6749's scope-token only.
        if let scopesNode = values["scopes"], let bad = scopes.first(where: { $0.isEmpty || !$0.utf8.allSatisfy(Self.isScopeTokenByte) }) {
            self.problem(at: scopesNode, field: "\(field).scopes", "expected scopes such as write (printable ASCII without space, \" or \\), got \"\(bad)\"")
        }
        let ownerOnly = values["owner_only"].flatMap { self.bool($0, field: "\(field).owner_only") } ?? false
        let caching = values["cache"].flatMap { self.caching($0, field: "\(field).cache") }
        let ownTiers = values["tiers"].flatMap { self.tiers($0, field: "\(field).tiers") }
        let tiers = ownTiers?.tiers ?? defaultTiers
        let cors = methods.flatMap { methods in values["cors"].flatMap { self.cors($0, field: "\(field).cors", routeMethods: methods) } }
        let upstream = values["upstream"].flatMap {
            self.upstream($0, field: "\(field).upstream", routePath: path?.text, sharesAuthorizedAnswers: values["cache"]?["scope"]?.string == "public")
        }
        let invalidates = path.flatMap { path in
            values["upstream"]?["invalidates"].flatMap { self.invalidationTemplates($0, field: "\(field).upstream.invalidates", routePath: path) }
        }
        guard self.problems.count == before, let path, let methods else { return nil }
        if upstream == nil, !methods.isSubset(of: RouteTable.methods) {
            self.problem(
                at: node, field: "\(field).methods",
                "\(methods.subtracting(RouteTable.methods).sorted().joined(separator: ", ")) needs an HTTP upstream: (the data service serves \(RouteTable.methods.joined(separator: ", ")))"
            )
        }
        if invalidates != nil, methods.isSubset(of: ["GET", "OPTIONS"]) {
            self.problem(at: node, field: "\(field).upstream.invalidates", "only a write (POST, PUT, PATCH, DELETE) invalidates; the route serves \(methods.sorted().joined(separator: ", "))")
        }
        if upstream != nil, ownerOnly {
            self.problem(at: node, field: "\(field).owner_only", "owner_only is the data service's ownership check; an HTTP upstream decides on the identity headers itself")
        }
        if caching != nil, methods != ["GET"] {
            self.problem(at: node, field: "\(field).cache", "only a route of GET alone can be cached, not \(methods.sorted().joined(separator: ", "))")
        }
        if caching?.scope == .user, authentication == .none {
            self.problem(at: node, field: "\(field).cache.scope", "scope user needs auth optional or required: the key includes the caller's subject")
        }
        if authentication == .none, !roles.isEmpty || !scopes.isEmpty || ownerOnly {
            self.problem(at: node, field: "\(field).auth", "auth none cannot require roles, scopes or ownership")
        }
        if ownerOnly, authentication != .required {
            self.problem(at: node, field: "\(field).owner_only", "owner_only needs auth required: an anonymous caller owns nothing")
        }
        let hasID = path.segments.contains(.parameter("id"))
        if ownerOnly, hasID, !methods.isSubset(of: ["PUT", "DELETE"]) {
            self.problem(at: node, field: "\(field).owner_only", "owner_only on a path with {id} applies to PUT and DELETE")
        }
        if ownerOnly, !hasID, methods != ["GET"] {
            self.problem(at: node, field: "\(field).owner_only", "owner_only needs a path with {id} (PUT, DELETE) or a GET listing")
        }
        if ownerOnly, !hasID, let caching, caching.scope != .user {
            self.problem(at: node, field: "\(field).cache.scope", "a listing of the caller's own documents must be cached with scope user")
        }
        guard self.problems.count == before else { return nil }
        let route = EdgeRoute(
            path: path.text, segments: path.segments, methods: methods, authentication: authentication, roles: roles, scopes: scopes,
            ownerOnly: ownerOnly, caching: caching, tiers: tiers, cors: cors, upstream: upstream, invalidates: invalidates
        )
        return (route, ownTiers?.references ?? [])
    }

    mutating func routePath(_ node: Node, field: String) -> (text: String, segments: [EdgeRoute.Segment])? {
        guard let text = node.scalar?.string, text.hasPrefix("/"), text.count > 1, !text.hasSuffix("/") else {
            self.problem(at: node, field: field, "expected a path such as /v1/{collection}/{id}, got \(Self.describe(node))")
            return nil
        }
        var segments: [EdgeRoute.Segment] = []
        for part in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            if part.hasPrefix("{"), part.hasSuffix("}") {
                let name = String(part.dropFirst().dropLast())
                guard RouteTable.parameterNames.contains(name), !segments.contains(.parameter(name)) else {
                    self.problem(at: node, field: field, "{\(name)} is not a parameter (use {collection} and {id}, once each)")
                    return nil
                }
                segments.append(.parameter(name))
            } else {
                guard !part.isEmpty, part.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._~".contains($0)) }) else {
                    self.problem(at: node, field: field, "segment \"\(part)\" must be 1 or more of A-Z a-z 0-9 - . _ ~, or a {parameter}")
                    return nil
                }
                segments.append(.literal(String(part)))
            }
        }
        return (text, segments)
    }

    private mutating func methods(_ node: Node, field: String) -> Set<String>? {
        guard let names = self.stringList(node, field: field) else { return nil }
        let methods = Set(names.map { $0.uppercased() })
        guard !methods.isEmpty, methods.isSubset(of: RouteTable.upstreamMethods) else {
            self.problem(at: node, field: field, "expected some of \(RouteTable.upstreamMethods.joined(separator: ", ")), got \(names)")
            return nil
        }
        return methods
    }

    private mutating func caching(_ node: Node, field: String) -> EdgeRoute.Caching? {
        guard let values = self.values(node, field: field, valid: RouteTable.cacheKeys) else { return nil }
        let ttl = self.required(values["ttl"], at: node, field: "\(field).ttl").flatMap { self.duration($0, field: "\(field).ttl") }
        let scope = values["scope"].flatMap { self.choice($0, field: "\(field).scope", as: EdgeRoute.CacheScope.self) } ?? .public
        let revalidate = values["stale_while_revalidate"].flatMap { self.duration($0, field: "\(field).stale_while_revalidate") } ?? .zero
        let onError = values["stale_if_error"].flatMap { self.duration($0, field: "\(field).stale_if_error") } ?? .zero
        guard let ttl else { return nil }
        return EdgeRoute.Caching(freshness: ResponseCache.Freshness(ttl: ttl, staleWhileRevalidate: revalidate, staleIfError: onError), scope: scope)
    }

    /// A `tiers` mapping, and where each of its policy names is written; a tier that lists a policy twice is a problem.
    mutating func tiers(_ node: Node, field: String) -> (tiers: [(name: String, policies: [String])], references: [PolicyReference])? {
        guard let mapping = self.mapping(node, field: field) else { return nil }
        var tiers: [(name: String, policies: [String])] = []
        var references: [PolicyReference] = []
        for (keyNode, value) in mapping {
            let name = keyNode.string ?? ""
            let tierField = "\(field).\(name)"
            guard let policies = self.stringList(value, field: tierField) else { continue }
            if let repeated = policies.enumerated().first(where: { policies[..<$0.offset].contains($0.element) })?.element {
                self.problem(at: value, field: tierField, "policy \"\(repeated)\" is listed twice")
                continue
            }
            let place = "\(self.source)\(value.mark.map { ":\($0.line)" } ?? ""): \(tierField)"
            references += policies.map { PolicyReference(policy: $0, tier: name, place: place) }
            tiers.append((name, policies))
        }
        return (tiers, references)
    }

    /// Whether `byte` may be in an OAuth scope (RFC 6749 §3.3: `%x21 / %x23-5B / %x5D-7E`).
    static func isScopeTokenByte(_ byte: UInt8) -> Bool {
        byte >= 0x21 && byte <= 0x7E && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
    }
}
