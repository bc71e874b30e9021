import GatehouseRedis
import GatehouseTestSupport
import Logging
import NIOCore
import Testing

@Suite("RedisClient against a real redis-server", .timeLimit(.minutes(1)))
struct RedisClientTests {
    @Test func answersTenThousandPipelinedCommandsToTheRightCallers() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        // A generous command timeout: the test is about which caller gets which reply, and 10,000 commands
        // queued on a loaded machine may wait longer than the 1 s default.
        let configuration = RedisConfiguration(port: server.port, connectTimeout: testConnectTimeout, commandTimeout: .seconds(30))
        try await withRunningClient(configuration) { client in
            let counts = try await withThrowingTaskGroup(of: Int?.self) { group in
                for _ in 0..<10_000 {
                    group.addTask { try await client.send(["INCR", "pipelined:counter"]).int }
                }
                var counts: [Int?] = []
                for try await count in group {
                    counts.append(count)
                }
                return counts
            }
            #expect(counts.count == 10_000)
            #expect(Set(counts.compactMap { $0 }) == Set(1...10_000))

            let misdelivered = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<10_000 {
                    group.addTask { try await client.send(["ECHO", "caller-\(index)"]).string != "caller-\(index)" }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(misdelivered == 0)
        }
    }

    @Test func runsScriptsAfterScriptFlushAndAfterARestart() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let script = RedisScript(source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")
        try await withRunningClient(RedisConfiguration(port: server.port, connectTimeout: testConnectTimeout)) { client in
            #expect(try await client.evalScript(script, keys: ["script:counter"], arguments: ["5"]) == .integer(5))
            #expect(try await client.send(["SCRIPT", "LOAD", script.source]).string == script.sha1)

            #expect(try await client.send(["SCRIPT", "FLUSH"]) == .simpleString("OK"))
            #expect(try await client.evalScript(script, keys: ["script:counter"], arguments: ["5"]) == .integer(10))

            try await server.restart()
            let afterRestart = try await eventually {
                try await client.evalScript(script, keys: ["script:counter"], arguments: ["3"])
            }
            #expect(afterRestart == .integer(3))
        }
    }

    @Test func surfacesErrorRepliesAndKeepsTheConnection() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        try await withRunningClient(RedisConfiguration(port: server.port, connectTimeout: testConnectTimeout, poolSize: 1)) { client in
            let connectionID = try await client.send(["CLIENT", "ID"])
            _ = try await client.send(["SET", "errors:text", "not a number"])
            await #expect {
                try await client.send(["INCR", "errors:text"])
            } throws: { error in
                let error = try #require(error as? RedisError)
                return error.code == .serverError
                    && error.serverMessage == "ERR value is not an integer or out of range"
                    && error.description == "ERR value is not an integer or out of range"
            }
            await #expect {
                try await client.send(["LPUSH", "errors:text", "item"])
            } throws: { error in
                (error as? RedisError)?.serverErrorPrefix == "WRONGTYPE"
            }
            #expect(try await client.send(["GET", "errors:text"]).string == "not a number")
            #expect(try await client.send(["CLIENT", "ID"]) == connectionID)
        }
    }

    @Test func authenticatesWithTheRightPasswordOnly() async throws {
        let server = try await RedisServerProcess.start(password: "correct horse")
        defer { server.stop() }
        try await withRunningClient(RedisConfiguration(port: server.port, password: "correct horse", connectTimeout: .seconds(5))) { client in
            let reply = try await client.send(["PING"])
            #expect(reply == .simpleString("PONG"))
        }
        try await withRunningClient(
            RedisConfiguration(port: server.port, username: "default", password: "correct horse", connectTimeout: .seconds(5))
        ) { client in
            let reply = try await client.send(["PING"])
            #expect(reply == .simpleString("PONG"))
        }
        try await withRunningClient(RedisConfiguration(port: server.port, password: "wrong", connectTimeout: .seconds(5))) { client in
            await #expect {
                try await client.send(["PING"])
            } throws: { error in
                let error = try #require(error as? RedisError)
                return error.code == .authenticationFailed && error.serverMessage?.hasPrefix("WRONGPASS") == true
            }
        }
    }

    @Test func timesOutASlowCommandAndRecovers() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        // Generous enough for a busy machine running the other tests in parallel on the same event loops.
        let configuration = RedisConfiguration(port: server.port, connectTimeout: testConnectTimeout, commandTimeout: .milliseconds(250), poolSize: 1)
        try await withRunningClient(configuration) { client in
            let warmUp = try await eventually { try await client.send(["PING"]) }
            #expect(warmUp == .simpleString("PONG"))
            let started = ContinuousClock.now
            await #expect {
                try await client.send(["DEBUG", "SLEEP", "3"])
            } throws: { error in
                let error = try #require(error as? RedisError)
                return error.code == .commandTimeout
                    && error.description.contains("Redis at 127.0.0.1:\(server.port) did not answer within 250 ms")
            }
            // Redis answers after 3 s; the caller got its error long before (the bound is loose for busy machines).
            #expect(ContinuousClock.now - started < .milliseconds(2500))

            let reply = try await eventually(within: .seconds(10)) { try await client.send(["PING"]) }
            #expect(reply == .simpleString("PONG"))
        }
    }

    @Test func publishesToSubscribersAndCountsThem() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        try await withRunningClient(RedisConfiguration(port: server.port, connectTimeout: testConnectTimeout)) { client in
            let receivers = try await client.publish(channel: "nobody-listens", message: "hello")
            #expect(receivers == 0)
        }
    }

    @Test func failsCommandsAfterShutdown() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let client = RedisClient(configuration: RedisConfiguration(port: server.port, connectTimeout: testConnectTimeout), logger: Logger(label: "test"))
        let running = Task { try await client.run() }
        #expect(try await client.send(["PING"]) == .simpleString("PONG"))
        running.cancel()
        try await running.value
        await #expect {
            try await client.send(["PING"])
        } throws: { error in
            (error as? RedisError)?.code == .clientShutDown
        }
    }

    @Test func reportsAStoppedServerAsUnreachable() async throws {
        let server = try await RedisServerProcess.start()
        let port = server.port
        server.stop()
        // A generous connect timeout: the test is about the kind of error, not about speed.
        try await withRunningClient(RedisConfiguration(port: port, connectTimeout: .seconds(5))) { client in
            await #expect {
                try await client.send(["PING"])
            } throws: { error in
                let error = try #require(error as? RedisError)
                return error.code == .connectionFailed
                    && error.description.hasPrefix("Could not connect to Redis at 127.0.0.1:\(port)")
            }
        }
    }
}

/// Connect timeout of tests that are not about connecting: the default 250 ms is missed when the suite
/// loads both cores.
let testConnectTimeout = Duration.seconds(5)
