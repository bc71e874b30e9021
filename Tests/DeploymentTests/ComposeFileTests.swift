import Foundation
import GatehouseTestSupport
import Testing

/// The docker compose deployment (`compose/`) without a Docker engine: docker-compose 1.29.2 validates and
/// interprets the compose file with the example env file, the real executables check the configuration
/// it gives them, and HAProxy checks its configuration.
///
/// Out of process: the executables' `--check-config` and exit statuses are what the compose file relies on.
@Suite(.timeLimit(.minutes(2)))
struct ComposeFileTests {
    /// The four Gatehouse services, each with its variables' prefix and its default admin port.
    static let gatehouseServices: [(name: String, prefix: String, adminPort: Int)] = [
        ("limiter", "LIMITER", 9101), ("data-service", "DATA", 9102), ("auth-issuer", "AUTH", 9103), ("edge-router", "EDGE", 9104),
    ]
    /// Every service of the deployment.
    static let allServices: Set<String> = Set(gatehouseServices.map(\.name) + ["redis", "load-balancer"])

    /// The file is valid compose (as far as 1.29.2 knows it) and every variable it uses is set by env.example.
    @Test("docker-compose config -q accepts the compose file with env.example, without a warning")
    func composeFileIsValid() async throws {
        let output = try await ComposeDeployment.dockerCompose(["config", "-q"])
        #expect(output.exit == .exited(0), "docker-compose rejected compose/docker-compose.yml:\n\(output.transcript)")
        #expect(!output.standardError.contains("WARNING"), "docker-compose warned (an unset variable?):\n\(output.standardError)")
    }

    /// Redis, the four Gatehouse services and the load balancer, under the names the other tests and the docs use.
    @Test("the six services exist")
    func servicesExist() async throws {
        let config = try await ComposeDeployment.config()
        #expect(Set(config.services.keys) == Self.allServices)
    }

    /// What the host exposes: the data API behind HAProxy and the token endpoint; Redis, RPC and admin ports stay inside.
    @Test("only the load balancer publishes 8080 and the auth issuer 8081; nothing else publishes a port")
    func onlyTheFrontDoorsPublishPorts() async throws {
        let config = try await ComposeDeployment.config()
        for (name, service) in config.services {
            let published = service.publishedPorts.map { "\($0.published.map(String.init) ?? "any"):\($0.target.map(String.init) ?? "?")" }
            let expected = switch name {
            case "load-balancer": ["8080:8080"]
            case "auth-issuer": ["8081:8081"]
            default: [String]()
            }
            #expect(published == expected, "\(name) publishes \(published), expected \(expected)")
        }
    }

    /// `docker compose up` starts a service only once what it needs answers, so the edges load the issuer's keys at start.
    @Test("every service has a health check (a Gatehouse service's asks /readyz on its admin port) and every dependency waits for health")
    func healthChecksAndDependencies() async throws {
        let config = try await ComposeDeployment.config()
        for (name, service) in config.services {
            #expect(!service.healthcheckTest.isEmpty && service.healthcheckTest != ["NONE"], "\(name) has no health check")
            for (dependency, condition) in service.dependencies {
                #expect(condition == "service_healthy", "\(name) depends on \(dependency) with \(condition), not service_healthy")
                #expect(Self.allServices.contains(dependency), "\(name) depends on an unknown service \(dependency)")
            }
        }
        for (name, prefix, defaultAdminPort) in Self.gatehouseServices {
            let service = try config.service(name)
            let adminPort = service.environment["\(prefix)_ADMIN_PORT"].flatMap { Int($0) } ?? defaultAdminPort
            #expect(
                service.healthcheckTest.contains("http://127.0.0.1:\(adminPort)/readyz"),
                "\(name)'s health check \(service.healthcheckTest) does not ask http://127.0.0.1:\(adminPort)/readyz"
            )
        }
        // Edges that start before the issuer serve without keys and miss earlier revocations (docs/operations.md).
        #expect(try config.service("edge-router").dependencies.keys.contains("auth-issuer"), "the edges do not wait for the auth issuer")
        #expect(try config.service("load-balancer").dependencies.keys.contains("edge-router"), "the load balancer does not wait for the edges")
    }

    /// Recreating a container (an upgrade, `up --build`) keeps the documents, the users and the signing keys.
    @Test("the data service's documents and the auth issuer's database (keys, users) are on named volumes")
    func databasesAreOnNamedVolumes() async throws {
        let config = try await ComposeDeployment.config()
        for (name, variable) in [("data-service", "DATA_STORAGE_PATH"), ("auth-issuer", "AUTH_STORAGE_PATH")] {
            let service = try config.service(name)
            let path = try #require(service.environment[variable], "\(name) sets no \(variable): its database would be in the container")
            let mount = try #require(
                service.mounts.first { path.hasPrefix($0.target + "/") },
                "\(name)'s database \(path) is on no mount, so it is lost with the container (mounts: \(service.mounts))"
            )
            #expect(config.volumeNames.contains(mount.source), "\(name)'s database is on \(mount.source), not a named volume of \(config.volumeNames)")
        }
    }

    /// `--scale edge-router=N` needs replicas that do not claim one name or one host port.
    @Test("the edge router runs at least two replicas and scales: no container_name, no published port")
    func edgeRouterScales() async throws {
        let edge = try await ComposeDeployment.config().service("edge-router")
        #expect((edge.replicas ?? 1) >= 2, "deploy.replicas is \(edge.replicas.map(String.init) ?? "not set")")
        #expect(edge.definition["container_name"] == nil, "a container_name allows one replica only")
        #expect(edge.publishedPorts.isEmpty, "a fixed host port allows one replica only")
    }

    /// Redis is never open, and every service can log in to it.
    @Test("Redis requires the env file's password, and every Gatehouse service logs in to it with that password")
    func redisRequiresThePassword() async throws {
        let config = try await ComposeDeployment.config()
        let password = try #require(try ComposeDeployment.exampleVariables()["GATEHOUSE_REDIS_PASSWORD"], "env.example has no GATEHOUSE_REDIS_PASSWORD")
        let command = try config.service("redis").command
        let requirePass = try #require(command.firstIndex(of: "--requirepass"), "redis runs without --requirepass: \(command)")
        #expect(command.indices.contains(requirePass + 1) && command[requirePass + 1] == password, "redis' password is not GATEHOUSE_REDIS_PASSWORD")
        for (name, prefix, _) in Self.gatehouseServices {
            let environment = try config.service(name).environment
            #expect(environment["\(prefix)_REDIS_HOST"] == "redis", "\(name) does not connect to the redis service")
            #expect(environment["\(prefix)_REDIS_PASSWORD"] == password, "\(name)'s \(prefix)_REDIS_PASSWORD is not GATEHOUSE_REDIS_PASSWORD")
        }
    }

    /// The committed file holds only `${…}` references, and each service gets the env file's value.
    @Test("no secret is written in docker-compose.yml: every secret and password comes from the env file")
    func secretsComeFromTheEnvFile() async throws {
        let config = try await ComposeDeployment.config()
        let variables = try ComposeDeployment.exampleVariables()
        let composeText = try String(contentsOf: ComposeDeployment.composeFile, encoding: .utf8)
        var secrets: [String: String] = [:]
        for name in ["GATEHOUSE_RPC_SECRET", "GATEHOUSE_REDIS_PASSWORD", "GATEHOUSE_ADMIN_PASSWORD"] {
            let value = try #require(variables[name], "env.example has no \(name)")
            secrets[name] = value
            #expect(!composeText.contains(value), "docker-compose.yml contains the value of \(name) itself instead of ${\(name)}")
        }
        for (name, prefix, _) in Self.gatehouseServices {
            #expect(try config.service(name).environment["\(prefix)_RPC_SECRET"] == secrets["GATEHOUSE_RPC_SECRET"], "\(name)'s rpc.secret is not GATEHOUSE_RPC_SECRET")
        }
        #expect(try config.service("auth-issuer").environment["AUTH_BOOTSTRAP_ADMIN_PASSWORD"] == secrets["GATEHOUSE_ADMIN_PASSWORD"])
        // A secret written into the file would be a value that is none of the env file's.
        for (name, service) in config.services {
            for (variable, value) in service.environment where variable.hasSuffix("_SECRET") || variable.hasSuffix("_PASSWORD") || variable == "REDISCLI_AUTH" {
                #expect(secrets.values.contains(value), "\(name)'s \(variable) is not taken from the env file")
            }
        }
    }

    /// Only HAProxy can name the client in X-Forwarded-For: the edges trust its one fixed address, on a network
    /// shared with the edges alone, outside the range Docker gives other containers and not the gateway (the
    /// Docker host); never a subnet, in which the edges themselves and the host are peers too. The other
    /// services share an internal network.
    @Test("the edges trust exactly the load balancer's fixed address for X-Forwarded-For; the services talk on an internal network")
    func networksSeparateTheLoadBalancer() async throws {
        let config = try await ComposeDeployment.config()
        let balancer = try config.service("load-balancer")
        let frontend = try #require(balancer.networks.first, "the load balancer is on no network")
        #expect(balancer.networks.count == 1, "the load balancer is on \(balancer.networks), expected one network shared with the edges only")
        let members = Set(config.services.values.filter { $0.networks.contains(frontend) }.map(\.name))
        #expect(members == ["load-balancer", "edge-router"], "the trusted network \(frontend) holds \(members)")

        let address = try #require(balancer.ipv4Address(on: frontend), "the load balancer has no fixed ipv4_address on \(frontend)")
        let trusted = try config.service("edge-router").environment["EDGE_HTTP_TRUSTED_PROXIES"]
        #expect(trusted == address, "the edges trust \(trusted ?? "nothing"), not exactly the load balancer's address \(address)")
        #expect(trusted.map { !$0.contains("/") && !$0.contains(",") } == true, "a network or a list is trusted: \(trusted ?? "")")

        let ipam = try #require((config.networks[frontend]?["ipam"] as? [String: Any])?["config"] as? [[String: Any]], "network \(frontend) has no ipam config")
        let pool = try #require(ipam.first, "network \(frontend) has no ipam config")
        let subnet = try #require((pool["subnet"] as? String).flatMap(IPv4Block.init), "network \(frontend) has no fixed subnet")
        let range = try #require((pool["ip_range"] as? String).flatMap(IPv4Block.init), "network \(frontend) has no ip_range for dynamic addresses")
        let gateway = try #require(pool["gateway"] as? String, "network \(frontend) has no fixed gateway")
        let value = try #require(IPv4Block.address(address), "\(address) is not an IPv4 address")
        #expect(subnet.contains(value), "the load balancer's \(address) is outside the subnet \(pool["subnet"] ?? "")")
        #expect(!range.contains(value), "the load balancer's \(address) is in the range Docker hands to other containers (\(pool["ip_range"] ?? ""))")
        #expect(gateway != address, "the load balancer's address is the Docker host's gateway")

        let internalNetworks = config.networks.filter { $0.value["internal"] as? Bool == true }.map(\.key)
        for name in Self.allServices.subtracting(["load-balancer"]) {
            let service = try config.service(name)
            #expect(!service.networks.isDisjoint(with: internalNetworks), "\(name) is on no internal network")
        }
    }

    /// The services bind where their peers connect, name each other by compose service, and agree on the
    /// issuer: a mismatch here would make the edges refuse every token.
    @Test("the services listen beyond loopback where a peer connects, find each other by service name, and the edges accept the issuer's tokens")
    func servicesReachEachOther() async throws {
        let config = try await ComposeDeployment.config()
        let limiter = try config.service("limiter").environment
        let data = try config.service("data-service").environment
        let auth = try config.service("auth-issuer").environment
        let edge = try config.service("edge-router").environment
        for (variable, value) in [
            ("LIMITER_RPC_HOST", limiter["LIMITER_RPC_HOST"]), ("DATA_RPC_HOST", data["DATA_RPC_HOST"]), ("AUTH_RPC_HOST", auth["AUTH_RPC_HOST"]),
            ("AUTH_HTTP_HOST", auth["AUTH_HTTP_HOST"]), ("EDGE_HTTP_HOST", edge["EDGE_HTTP_HOST"]), ("EDGE_ADMIN_HOST", edge["EDGE_ADMIN_HOST"]),
        ] {
            #expect(value == "0.0.0.0", "\(variable) is \(value ?? "the default, 127.0.0.1"): the peers in other containers cannot connect")
        }
        #expect(edge["EDGE_LIMITER_HOST"] == "limiter")
        #expect(edge["EDGE_DATA_HOST"] == "data-service")
        #expect(edge["EDGE_AUTH_HOST"] == "auth-issuer")
        #expect(auth["AUTH_LIMITER_HOST"] == "limiter")
        let authPort = auth["AUTH_HTTP_PORT"] ?? "8081"
        #expect(edge["EDGE_AUTH_JWKS_URL"] == "http://auth-issuer:\(authPort)/.well-known/jwks.json")
        #expect(edge["EDGE_AUTH_ISSUER"] != nil && edge["EDGE_AUTH_ISSUER"] == auth["AUTH_TOKENS_ISSUER"], "the edges would refuse every token: auth.issuer differs from tokens.issuer")
        #expect(auth["AUTH_TOKENS_ISSUER"] == "http://localhost:8081", "tokens.issuer is not the URL clients use")
        for (name, prefix, _) in Self.gatehouseServices {
            #expect(try config.service(name).environment["\(prefix)_LOG_FORMAT"] == "json", "\(name) does not log JSON")
        }
    }

    /// The Dockerfile builds and installs what the entrypoints run, and drops root.
    @Test("the image builds every executable the compose file starts, and runs them as an unprivileged user")
    func imageHoldsTheExecutables() async throws {
        let config = try await ComposeDeployment.config()
        let dockerfile = try String(contentsOf: ComposeDeployment.dockerfile, encoding: .utf8)
        let productLoop = try #require(dockerfile.firstMatch(of: /for product in ([^;]+);/), "the Dockerfile has no `for product in …;` build loop")
        let built = Set(productLoop.1.split(separator: " ").map(String.init))
        let installed = try #require(dockerfile.firstMatch(of: /COPY --from=build ([^\n]+) \/usr\/local\/bin\//), "the Dockerfile copies no executable to /usr/local/bin")
        for (name, _, _) in Self.gatehouseServices {
            let service = try config.service(name)
            #expect(service.entrypoint == [name], "\(name) runs \(service.entrypoint)")
            #expect(built.contains(name), "the Dockerfile does not build \(name)")
            #expect(installed.1.contains("/staging/\(name)"), "the Dockerfile does not install \(name)")
            let build = service.definition["build"] as? [String: Any]
            #expect(build?["dockerfile"] as? String == "compose/Dockerfile", "\(name) is not built from compose/Dockerfile")
        }
        let user = try #require(dockerfile.matches(of: /(?m)^USER (\S+)$/).last?.1, "the Dockerfile sets no USER: the services would run as root")
        #expect(!user.hasPrefix("root") && !user.hasPrefix("0"), "the services run as \(user)")
    }

    /// The real executable reads the environment the compose file gives it (container paths mapped to the
    /// repository's config/ and a temporary folder) and its policy or route file, in an empty working
    /// directory as in the container: a misspelled variable, a bad value, a missing file or a relative
    /// default that only resolves in the repository fails here, as it would stop the container.
    @Test("each Gatehouse executable accepts the configuration the compose file gives it (--check-config)", arguments: ComposeFileTests.gatehouseServices.map(\.name))
    func executableAcceptsItsConfiguration(_ name: String) async throws {
        let service = try await ComposeDeployment.config().service(name)
        let executable = try #require(service.entrypoint.first, "\(name) has no entrypoint")
        // The container's paths, outside the container; env.example's secrets replaced, as its instructions
        // say (the placeholders themselves are refused: ExampleSecretsTests).
        let folder = try TestFolder()
        let environment = try ComposeDeployment.replacingExampleSecrets(in: ComposeDeployment.hostEnvironment(of: service, in: folder))
        let output = try await CommandRun.run(
            TestEnvironment.productsDirectory.appendingPathComponent(executable).path, ["--check-config"], environment: environment, directory: folder.url.path
        )
        #expect(
            output.exit == .exited(0) && output.standardOutput.contains("\(executable): configuration ok"),
            "\(executable) --check-config refused the compose file's configuration:\n\(output.transcript)"
        )
    }

    /// HAProxy's own check of its configuration (the resolver names need not resolve: `init-addr none`),
    /// and the names and ports in it that must match the compose file.
    @Test("haproxy -c accepts compose/haproxy.cfg, which the load balancer mounts and which finds the edges through Docker's DNS")
    func haproxyAcceptsItsConfiguration() async throws {
        let haproxy = try #require(
            ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "haproxy is not installed: run scripts/install-dependencies"
        )
        let output = try await CommandRun.run(haproxy, ["-c", "-f", ComposeDeployment.haproxyConfig.path])
        #expect(output.exit == .exited(0), "haproxy -c rejected compose/haproxy.cfg:\n\(output.transcript)")

        let config = try await ComposeDeployment.config()
        let mounts = try config.service("load-balancer").mounts
        #expect(
            mounts.contains { $0.source == ComposeDeployment.haproxyConfig.path && $0.target == "/usr/local/etc/haproxy/haproxy.cfg" },
            "the load balancer does not mount compose/haproxy.cfg as its configuration: \(mounts)"
        )
        let text = try String(contentsOf: ComposeDeployment.haproxyConfig, encoding: .utf8)
        let edge = try config.service("edge-router").environment
        let edgePort = edge["EDGE_HTTP_PORT"] ?? "8180"
        let edgeAdminPort = edge["EDGE_ADMIN_PORT"] ?? "9104"
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.contains { $0.hasPrefix("nameserver ") && $0.hasSuffix(" 127.0.0.11:53") }, "no resolver asks Docker's DNS (127.0.0.11)")
        #expect(lines.contains { $0.hasPrefix("server-template ") && $0.hasSuffix(" edge-router:\(edgePort)") }, "no server-template finds edge-router:\(edgePort)")
        #expect(
            lines.contains { $0.hasPrefix("default-server ") && $0.contains(" check port \(edgeAdminPort) ") },
            "the edges' health is not checked on their admin port \(edgeAdminPort)"
        )
        #expect(lines.contains("bind :8080"), "HAProxy does not listen on 8080, the port the load balancer publishes")
        #expect(lines.contains("option forwardfor"), "HAProxy does not tell the edges the client's address")
    }
}
