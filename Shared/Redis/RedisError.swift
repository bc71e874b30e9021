/// An error from ``RedisClient`` or ``RedisSubscriber``.
///
/// Compare ``code`` to tell kinds apart (`error.code == .commandTimeout`); new codes may be added later,
/// so `switch` over them with a `default` branch. ``description`` says what happened and what to check.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    /// The kind of a ``RedisError``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case serverError
            case authenticationFailed
            case connectionFailed
            case connectTimeout
            case commandTimeout
            case connectionClosed
            case protocolError
            case invalidCommand
            case clientShutDown
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// Redis answered with an error reply (`-ERR ...`, `-WRONGTYPE ...`, `-NOSCRIPT ...`); see ``RedisError/serverMessage``.
        public static let serverError = Code(.serverError)
        /// Redis rejected the configured username or password.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// A TCP connection to Redis could not be opened (refused, unreachable, name not resolved).
        public static let connectionFailed = Code(.connectionFailed)
        /// Opening a TCP connection took longer than ``RedisConfiguration/connectTimeout``.
        public static let connectTimeout = Code(.connectTimeout)
        /// Redis did not answer a command within ``RedisConfiguration/commandTimeout``.
        public static let commandTimeout = Code(.commandTimeout)
        /// The connection was closed before the reply arrived.
        public static let connectionClosed = Code(.connectionClosed)
        /// Redis sent bytes that are not valid RESP.
        public static let protocolError = Code(.protocolError)
        /// The command could not be sent as given (for example an empty argument list).
        public static let invalidCommand = Code(.invalidCommand)
        /// The client was used after its ``RedisClient/run()`` finished.
        public static let clientShutDown = Code(.clientShutDown)

        /// The name of the code, for logs.
        public var description: String {
            self.base.rawValue
        }
    }

    /// The kind of error.
    public let code: Code

    /// The error reply exactly as Redis sent it (without the leading `-`), for ``Code/serverError`` and
    /// ``Code/authenticationFailed``; otherwise `nil`.
    public let serverMessage: String?

    /// A sentence saying what went wrong and what to check.
    public let description: String

    private init(code: Code, serverMessage: String? = nil, description: String) {
        self.code = code
        self.serverMessage = serverMessage
        self.description = description
    }

    /// The first word of ``serverMessage`` (the error prefix, such as `NOSCRIPT` or `WRONGTYPE`), or `nil`.
    public var serverErrorPrefix: Substring? {
        guard let serverMessage else {
            return nil
        }
        return serverMessage.prefix { $0 != " " }
    }

    static func serverError(_ message: String) -> RedisError {
        RedisError(code: .serverError, serverMessage: message, description: message)
    }

    static func authenticationFailed(endpoint: String, serverMessage: String) -> RedisError {
        RedisError(
            code: .authenticationFailed,
            serverMessage: serverMessage,
            description: "Redis at \(endpoint) rejected the credentials (\(serverMessage)); check RedisConfiguration.username and password"
        )
    }

    static func connectionFailed(endpoint: String, reason: String) -> RedisError {
        RedisError(
            code: .connectionFailed,
            description: "Could not connect to Redis at \(endpoint) (\(reason)); check that redis-server is running and host/port are right"
        )
    }

    static func noSentinelNamedThePrimary(endpoint: String, answers: [String]) -> RedisError {
        RedisError(
            code: .connectionFailed,
            description: "No sentinel named the \(endpoint) (\(answers.joined(separator: "; "))); check redis.sentinel.addresses and redis.sentinel.master_name"
        )
    }

    static func connectTimeout(endpoint: String, timeout: Duration) -> RedisError {
        RedisError(
            code: .connectTimeout,
            description: "Could not connect to Redis at \(endpoint) within \(timeout.millisecondsDescription); check the network or raise RedisConfiguration.connectTimeout"
        )
    }

    static func commandTimeout(endpoint: String, timeout: Duration) -> RedisError {
        RedisError(
            code: .commandTimeout,
            description: "Redis at \(endpoint) did not answer within \(timeout.millisecondsDescription); the connection was closed and will be reopened (raise RedisConfiguration.commandTimeout for slow commands)"
        )
    }

    static func connectionClosed(endpoint: String, reason: String) -> RedisError {
        RedisError(
            code: .connectionClosed,
            description: "The connection to Redis at \(endpoint) was closed before the reply arrived (\(reason)); the command may or may not have run"
        )
    }

    static func protocolError(endpoint: String, reason: String) -> RedisError {
        RedisError(
            code: .protocolError,
            description: "Redis at \(endpoint) sent a reply that is not valid RESP (\(reason)); check that host/port point at a Redis server"
        )
    }

    static func invalidCommand(_ reason: String) -> RedisError {
        RedisError(code: .invalidCommand, description: reason)
    }

    static func clientShutDown(endpoint: String) -> RedisError {
        RedisError(
            code: .clientShutDown,
            description: "The Redis client for \(endpoint) has shut down; keep its run() going while commands are sent"
        )
    }
}

extension Duration {
    /// The duration in whole milliseconds, as "50 ms".
    var millisecondsDescription: String {
        let parts = self.components
        let milliseconds = parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
        return "\(milliseconds) ms"
    }
}
