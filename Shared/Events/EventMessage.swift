import Foundation

/// A message of an event channel: a JSON document of its own format (docs/protocol.md), sent as the text of
/// one Redis `PUBLISH`.
public protocol EventMessage: Codable, Sendable {}

extension EventMessage {
    /// The message as JSON text.
    public func jsonText() -> String {
        // Event formats hold strings, integers and arrays of them, whose encoding cannot fail.
        String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Parses a message received on its channel.
    /// - Parameter jsonText: The message's text.
    /// - Throws: `DecodingError` when the text is not a message of this format.
    public init(jsonText: some StringProtocol) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(jsonText.utf8))
    }
}
