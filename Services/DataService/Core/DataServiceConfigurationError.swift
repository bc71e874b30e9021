/// Two settings of the data service that are valid alone do not fit together; the message names both, their
/// values, where each was set, and what to change.
package struct DataServiceConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and what to change.
    package let message: String

    init(_ message: String) {
        self.message = message
    }

    /// The message.
    package var description: String { self.message }
}
