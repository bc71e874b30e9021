import Foundation
import GatehouseNIOSupport

/// The parameters of a token or revocation request, from an `application/x-www-form-urlencoded` body
/// (RFC 6749 §4) or, as a convenience, a flat JSON object of strings.
///
/// Form parsing is strict, as RFC 6749 §3.2 asks: a parameter sent twice, bytes that are not UTF-8, a
/// broken percent escape, or another media type are `invalid_request` errors naming the problem. (In a JSON
/// body a repeated key is not detected: the JSON parser keeps one of the values.)
package struct OAuthParameters: Sendable, Equatable {
    private var values: [String: String]

    /// Creates parameters from a dictionary.
    package init(_ values: [String: String]) {
        self.values = values
    }

    /// A parameter's value; empty values count as absent (RFC 6749 §3.1).
    package subscript(name: String) -> String? {
        guard let value = self.values[name], !value.isEmpty else { return nil }
        return value
    }

    /// A parameter that must be present.
    /// - Throws: ``OAuthError`` `invalid_request` naming the parameter.
    package func required(_ name: String) throws(OAuthError) -> String {
        guard let value = self[name] else {
            throw OAuthError(.invalidRequest, "the '\(name)' parameter is missing")
        }
        return value
    }

    /// Parses a request body by its `Content-Type`.
    /// - Parameters:
    ///   - body: The body bytes.
    ///   - contentType: The `Content-Type` header, if any.
    /// - Throws: ``OAuthError`` `invalid_request` for another media type or a malformed body.
    package init(body: [UInt8], contentType: String?) throws(OAuthError) {
        let mediaType = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        switch mediaType {
        case "application/x-www-form-urlencoded":
            self = try Self(formBody: body)
        case "application/json":
            self = try Self(jsonBody: body)
        default:
            throw OAuthError(
                .invalidRequest,
                "the body must be application/x-www-form-urlencoded (or application/json), not \(contentType.map { "'\($0)'" } ?? "missing")"
            )
        }
    }

    /// Parses `name=value&…` with `+` for space and `%XX` escapes.
    /// - Throws: ``OAuthError`` `invalid_request` for a repeated name, a bad escape or non-UTF-8 text.
    package init(formBody body: [UInt8]) throws(OAuthError) {
        var values: [String: String] = [:]
        for pair in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decodeComponent(parts[0])
            let value = parts.count > 1 ? try Self.decodeComponent(parts[1]) : ""
            guard values.updateValue(value, forKey: name) == nil else {
                throw OAuthError(.invalidRequest, "the '\(name)' parameter is given more than once")
            }
        }
        self.values = values
    }

    /// Parses a JSON object whose values are strings.
    /// - Throws: ``OAuthError`` `invalid_request` for anything else.
    package init(jsonBody body: [UInt8]) throws(OAuthError) {
        guard String(validating: body, as: UTF8.self) != nil,
            let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        else {
            throw OAuthError(.invalidRequest, "the body is not a JSON object")
        }
        var values: [String: String] = [:]
        for (name, value) in object {
            guard let text = value as? String else {
                throw OAuthError(.invalidRequest, "the '\(name)' parameter must be a string")
            }
            values[name] = text
        }
        self.values = values
    }

    private static func decodeComponent(_ bytes: ArraySlice<UInt8>) throws(OAuthError) -> String {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "+"):
                decoded.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard bytes.endIndex - index > 2, let high = HexDigit.value(of: bytes[index + 1]), let low = HexDigit.value(of: bytes[index + 2])
                else {
                    throw OAuthError(.invalidRequest, "the body has a malformed percent escape")
                }
                decoded.append(high << 4 | low)
                index += 2
            default:
                decoded.append(byte)
            }
            index += 1
        }
        guard let text = String(validating: decoded, as: UTF8.self) else {
            throw OAuthError(.invalidRequest, "the body is not valid UTF-8")
        }
        return text
    }
}
