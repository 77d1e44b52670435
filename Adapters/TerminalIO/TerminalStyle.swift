#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Colours and emphasis for terminal output, or none at all.
///
/// Colour is on only when output is a terminal, `NO_COLOR` is unset or empty (https://no-color.org)
/// and `TERM` is not `dumb`. With colour off every method returns its argument unchanged, so callers
/// style unconditionally and redirected output stays free of escape codes. Each method closes with
/// the specific reset for what it opened (`22` for intensity, `39` for the foreground colour) rather
/// than a full reset, so styles nest: `style.bold(style.red("x"))`.
public struct TerminalStyle: Sendable {
    /// Whether the methods add escape codes.
    public let isColorEnabled: Bool
    private let output: Int32

    /// A style with colour explicitly on or off; ``detect(output:environment:)`` is the usual way in.
    public init(isColorEnabled: Bool, output: Int32 = STDOUT_FILENO) {
        self.isColorEnabled = isColorEnabled
        self.output = output
    }

    /// Decides from the output descriptor and the environment whether to use colour.
    public static func detect(
        output: Int32 = STDOUT_FILENO,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> TerminalStyle {
        let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
        let dumb = environment["TERM"] == "dumb"
        return TerminalStyle(isColorEnabled: isatty(output) == 1 && !noColor && !dumb, output: output)
    }

    /// The output terminal's width in columns, asked afresh each time (it changes when the window
    /// is resized); 80 when output is not a terminal or reports no size.
    public var width: Int { terminalSize(output)?.columns ?? TerminalLimits.defaultColumns }

    /// Bold (or bright) text: headings, own name.
    public func bold(_ text: String) -> String { wrap(text, "1", "22") }
    /// Faint text: timestamps, status lines.
    public func dim(_ text: String) -> String { wrap(text, "2", "22") }
    /// Red foreground: errors and warnings such as a changed safety number.
    public func red(_ text: String) -> String { wrap(text, "31", "39") }
    /// Green foreground: success, verified contacts.
    public func green(_ text: String) -> String { wrap(text, "32", "39") }
    /// Yellow foreground: pending states and notices.
    public func yellow(_ text: String) -> String { wrap(text, "33", "39") }
    /// Magenta foreground.
    public func magenta(_ text: String) -> String { wrap(text, "35", "39") }
    /// Cyan foreground: peer names.
    public func cyan(_ text: String) -> String { wrap(text, "36", "39") }

    private func wrap(_ text: String, _ open: String, _ close: String) -> String {
        isColorEnabled ? "\u{1B}[\(open)m\(text)\u{1B}[\(close)m" : text
    }
}
