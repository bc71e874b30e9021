import Foundation

/// Why the README's walkthrough could not be read.
struct WalkthroughFormatError: Error, CustomStringConvertible {
    let description: String
}

/// One block of the README's walkthrough: the shell commands of a ```` ```sh ```` block and, when a
/// ```` ```text ```` block follows it, the lines they print.
struct WalkthroughStep {
    /// The commands, as a reader pastes them.
    let commands: String
    /// The printed lines; `…` in a line stands for any text. `nil` when the README shows no output.
    let expected: [String]?

    /// The steps between `<!-- SECTION:begin -->` and `<!-- SECTION:end -->`.
    /// - Parameters:
    ///   - readme: The README's text.
    ///   - section: The markers' name: `walkthrough` (the walkthrough) or `walkthrough-upstream` (in front of your own API).
    static func parse(readme: String, section: String = "walkthrough") throws(WalkthroughFormatError) -> [WalkthroughStep] {
        guard let begin = readme.range(of: "<!-- \(section):begin -->"),
            let end = readme.range(of: "<!-- \(section):end -->", range: begin.upperBound..<readme.endIndex)
        else {
            throw WalkthroughFormatError(description: "README.md has no <!-- \(section):begin --> … <!-- \(section):end --> section")
        }
        var blocks: [(language: String, lines: [String])] = []
        var open: (language: String, lines: [String])?
        for line in readme[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                if let block = open {
                    blocks.append(block)
                    open = nil
                } else {
                    open = (String(line.dropFirst(3)), [])
                }
            } else if open != nil {
                open?.lines.append(String(line))
            }
        }
        var steps: [WalkthroughStep] = []
        for block in blocks {
            switch block.language {
            case "sh":
                steps.append(WalkthroughStep(commands: block.lines.joined(separator: "\n"), expected: nil))
            case "text":
                guard let last = steps.last, last.expected == nil else {
                    throw WalkthroughFormatError(description: "a ```text block of the walkthrough follows no ```sh block")
                }
                steps[steps.count - 1] = WalkthroughStep(commands: last.commands, expected: block.lines)
            default:
                throw WalkthroughFormatError(description: "the walkthrough has a ```\(block.language) block; only sh and text are run and checked")
            }
        }
        return steps
    }

    /// Splits one shell's output at the `@@step N@@` lines printed before each step.
    static func split(output: String, steps: Int) -> [[String]] {
        var outputs = [[String]](repeating: [], count: steps)
        var current: Int?
        // Curl prints header lines with CRLF, which Swift counts as one Character: split at any newline.
        for rawLine in output.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.hasPrefix("@@step "), line.hasSuffix("@@"), let index = Int(line.dropFirst(7).dropLast(2)), index < steps {
                current = index
            } else if let current, !line.isEmpty {
                outputs[current].append(line)
            }
        }
        return outputs
    }

    /// What differs between `output` and the expected lines (line for line, ignoring case: HAProxy sends
    /// header names in lower case, an edge replica in their usual case),
    /// or `nil` when they agree.
    func mismatch(output: [String]) -> String? {
        let expected = (self.expected ?? []).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shown = "expected\n\(expected.joined(separator: "\n"))\nprinted\n\(output.joined(separator: "\n"))"
        guard expected.count == output.count else { return "\(expected.count) lines expected, \(output.count) printed; \(shown)" }
        for (pattern, line) in zip(expected, output) where !Self.matches(pattern: pattern, line: line) {
            return "'\(line)' is not '\(pattern)'; \(shown)"
        }
        return nil
    }

    /// Whether `line` is `pattern` with each `…` standing for any text, ignoring case.
    static func matches(pattern: String, line: String) -> Bool {
        let regex = "^" + pattern.components(separatedBy: "…").map(NSRegularExpression.escapedPattern(for:)).joined(separator: ".*") + "$"
        return line.range(of: regex, options: [.regularExpression, .caseInsensitive]) != nil
    }
}
