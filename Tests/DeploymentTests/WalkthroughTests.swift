import Foundation
import GatehouseTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The local run (`scripts/run`) as a newcomer uses it, and the README's walkthrough run against it.
///
/// Out of process: the walkthrough starts the executables as `scripts/run` does.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct WalkthroughTests {
    /// The ports the README's commands name, by the `scripts/run` variable that moves each.
    static let documentedPorts: [(variable: String, port: Int)] = [
        ("GATEHOUSE_PORT_LB", 8080), ("GATEHOUSE_PORT_AUTH", 8081),
        ("GATEHOUSE_PORT_EDGE_A", 8180), ("GATEHOUSE_PORT_EDGE_B", 8181),
    ]
    /// The ports nobody types, moved too so that the test never collides with a running local system.
    static let internalPortVariables = [
        "GATEHOUSE_PORT_REDIS", "GATEHOUSE_PORT_LIMITER", "GATEHOUSE_PORT_DATA", "GATEHOUSE_PORT_AUTH_RPC",
        "GATEHOUSE_PORT_LIMITER_ADMIN", "GATEHOUSE_PORT_DATA_ADMIN", "GATEHOUSE_PORT_AUTH_ADMIN",
        "GATEHOUSE_PORT_EDGE_A_ADMIN", "GATEHOUSE_PORT_EDGE_B_ADMIN",
    ]

    /// `scripts/run` on free ports, with this build's executables and data in `folder`.
    /// - Parameters:
    ///   - folder: Where its data goes.
    ///   - ports: The port of each port variable.
    ///   - routesFile: The edges' route file (`GATEHOUSE_ROUTES_FILE`); config/routes.yaml when `nil`.
    static func startLocalRun(in folder: String, ports: [String: Int], routesFile: String? = nil) throws -> ServiceProcess {
        var environment = ["GATEHOUSE_BIN_DIR": TestEnvironment.productsDirectory.path, "GATEHOUSE_DATA_DIR": "\(folder)/data"]
        for (variable, port) in ports { environment[variable] = String(port) }
        if let routesFile { environment["GATEHOUSE_ROUTES_FILE"] = routesFile }
        environment["HOME"] = ProcessInfo.processInfo.environment["HOME"] ?? folder
        return try ServiceProcess.start(
            name: "scripts/run", executable: TestEnvironment.packageRoot.appendingPathComponent("scripts/run").path,
            environment: environment, logPath: "\(folder)/run.log"
        )
    }

    /// Distinct free loopback ports for every variable.
    static func freePorts(for variables: [String]) throws -> [String: Int] {
        var ports: [String: Int] = [:]
        while ports.count < variables.count {
            let port = try freeLoopbackPort()
            if !ports.values.contains(port) { ports[variables[ports.count]] = port }
        }
        return ports
    }

    /// Waits until `process` has printed `text`; when it does not, the failure shows the end of every service log
    /// scripts/run wrote under `folder`, which the test removes afterwards.
    static func waitForOutput(_ process: ServiceProcess, _ text: String, timeout: Duration, folder: String) async throws {
        let deadline = ContinuousClock.now + timeout
        while !process.log.contains(text) {
            if let exit = process.exitStatus {
                Issue.record("scripts/run ended (\(exit)) before printing '\(text)':\n\(process.logTail)\n\(Self.serviceLogTails(folder))")
                throw CancellationError()
            }
            if ContinuousClock.now >= deadline {
                Issue.record("scripts/run did not print '\(text)' within \(timeout):\n\(process.logTail)\n\(Self.serviceLogTails(folder))")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The last lines of each log in `folder`/data/logs.
    static func serviceLogTails(_ folder: String) -> String {
        let logs = "\(folder)/data/logs"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).sorted()
        return names.map { name in
            let text = (try? String(contentsOfFile: "\(logs)/\(name)", encoding: .utf8)) ?? ""
            return "--- \(name):\n" + text.split(separator: "\n").suffix(12).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    @Test("the README's walkthrough prints what the README says, step by step, against scripts/run")
    func readmeWalkthrough() async throws {
        let readme = try String(contentsOf: TestEnvironment.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let steps = try WalkthroughStep.parse(readme: readme)
        #expect(steps.count >= 6, "the README's walkthrough has its steps between the walkthrough markers")

        try await withTemporaryDirectory { folder in
            let ports = try Self.freePorts(for: Self.documentedPorts.map(\.variable) + Self.internalPortVariables)
            let run = try Self.startLocalRun(in: folder, ports: ports)
            defer { run.stop(gracePeriod: .seconds(20)) }
            try await Self.waitForOutput(run, "Press Ctrl-C to stop.", timeout: .seconds(90), folder: folder)

            // The generated credentials are readable by their owner only.
            let credentials = try FileManager.default.attributesOfItem(atPath: "\(folder)/data/demo-credentials.env")
            #expect((credentials[.posixPermissions] as? Int) == 0o600)

            try await Self.run(steps, in: folder, ports: ports)

            // Ctrl-C (SIGINT) or SIGTERM stops everything it started, and the ports are free again.
            run.send(signal: SIGTERM)
            #expect(try await run.waitForExit(timeout: .seconds(30)) == .exited(0), "\(run.logTail)")
            #expect(run.log.contains("Gatehouse stopped."))
            for (variable, port) in ports {
                #expect(!Self.accepts(port: port), "\(variable) (\(port)) still accepts connections after the stop")
            }
        }
    }

    /// Runs the steps in one shell, as a reader pasting them into one terminal would (with a reader's pause
    /// between blocks), in `folder`; the commands name the documented ports, moved to the test's. Expects
    /// each step to print what the README shows.
    static func run(_ steps: [WalkthroughStep], in folder: String, ports: [String: Int]) async throws {
        var script = "cd '\(folder)'\n"
        for (index, step) in steps.enumerated() {
            var commands = step.commands
            for (variable, port) in Self.documentedPorts {
                commands = commands.replacingOccurrences(of: "127.0.0.1:\(port)", with: "127.0.0.1:\(ports[variable]!)")
            }
            script += "echo '@@step \(index)@@'\n\(commands)\nsleep 0.2\n"
        }
        try script.write(toFile: "\(folder)/walkthrough.sh", atomically: true, encoding: .utf8)
        let shell = try ServiceProcess.start(
            name: "walkthrough", executable: "/bin/bash", arguments: ["\(folder)/walkthrough.sh"],
            environment: ["HOME": folder], logPath: "\(folder)/walkthrough.log"
        )
        #expect(try await shell.waitForExit(timeout: .seconds(60)) == .exited(0), "\(shell.logTail)")

        let outputs = WalkthroughStep.split(output: shell.log, steps: steps.count)
        for (index, step) in steps.enumerated() where step.expected != nil {
            let mismatch = step.mismatch(output: outputs[index])
            #expect(mismatch == nil, "walkthrough step \(index + 1) (\(step.commands.prefix(60))…): \(mismatch ?? "")")
        }
    }

    @Test("the README's \"In front of your own API\" prints what the README says, against scripts/run with the example route file in front of the example API")
    func upstreamWalkthrough() async throws {
        let readme = try String(contentsOf: TestEnvironment.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let steps = try WalkthroughStep.parse(readme: readme, section: "walkthrough-upstream")
        #expect(steps.count >= 4, "the README's \"In front of your own API\" has its steps between the walkthrough-upstream markers")
        let examples = TestEnvironment.packageRoot.appendingPathComponent("config/examples")
        #expect(readme.contains("python3 config/examples/articles_api.py"), "the README starts the example API")
        #expect(readme.contains("GATEHOUSE_ROUTES_FILE=config/examples/upstream-routes.yaml scripts/run"), "the README starts the run with the example route file")

        try await withTemporaryDirectory { folder in
            let ports = try Self.freePorts(for: Self.documentedPorts.map(\.variable) + Self.internalPortVariables)
            var apiPort = try freeLoopbackPort()
            while ports.values.contains(apiPort) { apiPort = try freeLoopbackPort() }
            // Debian's python3 itself (no launcher in between), so that its PID is the server's.
            let api = try ServiceProcess.start(
                name: "example API", executable: "/usr/bin/python3", arguments: [examples.appendingPathComponent("articles_api.py").path, "\(apiPort)"],
                environment: [:], logPath: "\(folder)/api.log"
            )
            defer { api.kill() }
            // The example route file as it is, but for the API's port (8000 there).
            let routes = try String(contentsOf: examples.appendingPathComponent("upstream-routes.yaml"), encoding: .utf8)
            #expect(routes.contains("http://127.0.0.1:8000"))
            // The route the README shows is the file's.
            let section = try #require(readme.range(of: "## In front of your own API"))
            let excerpt = try #require(readme.range(of: "```yaml\n", range: section.upperBound..<readme.endIndex))
            let excerptEnd = try #require(readme.range(of: "```", range: excerpt.upperBound..<readme.endIndex))
            #expect(routes.contains(readme[excerpt.upperBound..<excerptEnd.lowerBound]), "the README's route is config/examples/upstream-routes.yaml's")
            try routes.replacingOccurrences(of: "http://127.0.0.1:8000", with: "http://127.0.0.1:\(apiPort)")
                .write(toFile: "\(folder)/upstream-routes.yaml", atomically: true, encoding: .utf8)
            let run = try Self.startLocalRun(in: folder, ports: ports, routesFile: "\(folder)/upstream-routes.yaml")
            defer { run.stop(gracePeriod: .seconds(20)) }
            try await Self.waitForOutput(run, "Press Ctrl-C to stop.", timeout: .seconds(90), folder: folder)
            let deadline = ContinuousClock.now + .seconds(20)
            while (try? httpGet(port: apiPort, path: "/articles/1")) == nil {
                guard ContinuousClock.now < deadline else {
                    Issue.record("the example API does not answer:\n\(api.logTail)")
                    throw CancellationError()
                }
                try await Task.sleep(for: .milliseconds(100))
            }

            try await Self.run(steps, in: folder, ports: ports)
        }
    }

    @Test("a taken port stops scripts/run before it starts anything, naming the port and its variable")
    func takenPort() async throws {
        try await withTemporaryDirectory { folder in
            let occupant = try await RedisServerProcess.start()
            defer { occupant.stop() }
            var ports = try Self.freePorts(for: Self.documentedPorts.map(\.variable) + Self.internalPortVariables)
            ports["GATEHOUSE_PORT_LB"] = occupant.port
            let run = try Self.startLocalRun(in: folder, ports: ports)
            defer { run.stop() }
            #expect(try await run.waitForExit(timeout: .seconds(20)) == .exited(1))
            #expect(run.log.contains("port \(occupant.port) (load balancer) is taken: stop what listens there or set GATEHOUSE_PORT_LB"), "\(run.logTail)")
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/data"), "nothing was created")
        }
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
