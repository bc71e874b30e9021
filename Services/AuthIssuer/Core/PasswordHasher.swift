import HummingbirdBcrypt

/// bcrypt for user passwords, run through a ``PasswordHashingQueue`` on NIO's blocking thread pool so a
/// hash (tens to hundreds of milliseconds by design) never stalls an event loop or the cooperative pool,
/// and the number of hashes running or waiting at once is bounded.
///
/// A login for an unknown user is verified against a dummy hash of the same cost, so it takes as long as a
/// wrong password and the timing does not reveal which names exist.
package struct PasswordHasher: Sendable {
    /// The accepted password lengths in UTF-8 bytes; bcrypt reads at most 72.
    package static let lengths = 8...72

    /// The bcrypt cost of new hashes.
    package let cost: Int
    private let dummyHash: String
    private let queue: PasswordHashingQueue

    /// Creates a hasher; computes the dummy hash once, which takes one hash's time.
    /// - Parameters:
    ///   - cost: The bcrypt cost, 4…16.
    ///   - queue: Where every hash and verification waits for its turn; by default one of its own with the
    ///     default bounds.
    package init(cost: Int, queue: PasswordHashingQueue = PasswordHashingQueue()) {
        self.cost = cost
        self.dummyHash = Bcrypt.hash("gatehouse-dummy-password", cost: UInt8(cost))
        self.queue = queue
    }

    /// Hashes a new password.
    /// - Throws: ``PasswordError`` when the password is shorter than 8 or longer than 72 bytes;
    ///   ``PasswordHashingQueueFull`` when the queue has no room.
    package func hash(_ password: String) async throws -> String {
        try Self.validate(password)
        let cost = UInt8(self.cost)
        return try await self.queue.run { Bcrypt.hash(password, cost: cost) }
    }

    /// Checks a password against a user's hash, or against the dummy hash when there is no user.
    /// - Returns: `true` only when `hash` is given and matches.
    /// - Throws: ``PasswordHashingQueueFull`` when the queue has no room (nothing was checked), or
    ///   `CancellationError` when the task was cancelled while it waited.
    package func verify(_ password: String, against hash: String?) async throws -> Bool {
        let target = hash ?? self.dummyHash
        let matches = try await self.queue.run { Bcrypt.verify(password, hash: target) }
        return matches && hash != nil
    }

    /// Checks a new password's length.
    /// - Throws: ``PasswordError`` naming the length rule.
    package static func validate(_ password: String) throws(PasswordError) {
        guard Self.lengths.contains(password.utf8.count) else {
            throw PasswordError(description: "a password must be \(Self.lengths.lowerBound) to \(Self.lengths.upperBound) bytes long; this one has \(password.utf8.count)")
        }
    }
}

/// A password that cannot be used.
package struct PasswordError: Error, Sendable, CustomStringConvertible {
    /// What is wrong with it.
    package let description: String
}
