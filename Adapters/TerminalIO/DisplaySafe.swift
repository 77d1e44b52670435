/// What every continuation line of untrusted text starts with, so that it can never look like a
/// line of its own (a forged "2026-12-01 06:16 alice: send me your password" under a message).
public let displayContinuationMarker = "  │ "

/// Makes untrusted text (a peer's message, a server's error, a library's message) harmless to print
/// on a terminal.
///
/// A message is attacker-controlled: raw control characters in it could move the cursor, clear the
/// screen, retitle the window or fake a line from someone else (`\r` followed by a forged sender).
/// Every C0 control, DEL, every C1 control (which some terminals treat as escapes) and the
/// bidirectional override and isolate characters (which reorder what is displayed, as in "Trojan
/// Source") become U+FFFD; a tab becomes a space. A line break — `\n`, `\r\n`, U+0085 (NEL), U+2028
/// and U+2029 — starts a new line that begins with `continuation`, so a multi-line message still
/// reads as one and no line of it starts where a real message line would. Apply it to untrusted
/// text before styling it, never to the styled result.
///
/// The rejected alternative, keeping newlines as they are, let one message print a second line
/// that looked exactly like another person's message.
public func displaySafe(_ untrusted: String, continuation: String = displayContinuationMarker) -> String {
    sanitise(untrusted, lineBreak: "\n" + continuation)
}

/// ``displaySafe(_:continuation:)`` for text that must stay on one line (an error message after
/// `parley: `): a line break becomes U+FFFD like any other control character.
public func displaySafeLine(_ untrusted: String) -> String {
    sanitise(untrusted, lineBreak: "\u{FFFD}")
}

private func sanitise(_ untrusted: String, lineBreak: String) -> String {
    var result = String.UnicodeScalarView()
    let scalars = Array(untrusted.unicodeScalars)
    for (index, scalar) in scalars.enumerated() {
        switch scalar.value {
        case 0x0D where index + 1 < scalars.count && scalars[index + 1] == "\n":
            continue  // \r\n is one line break
        case 0x0A, 0x85, 0x2028, 0x2029:
            result.append(contentsOf: lineBreak.unicodeScalars)
        case 0x09:
            result.append(" ")
        case 0x00...0x1F, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069:
            result.append("\u{FFFD}")
        default:
            result.append(scalar)
        }
    }
    return String(result)
}

/// Escapes, inside an already encoded JSON text, every character a terminal could act on that JSON
/// encoders leave raw: DEL, the C1 controls (U+009B is CSI on some terminals), U+2028, U+2029 and
/// the bidirectional overrides and isolates, each as `\uXXXX`. JSON allows these only inside strings
/// and means the same thing escaped, so the result decodes to the same value. (Conforming encoders
/// already escape C0 controls; any that slip through are escaped too, except the whitespace JSON
/// allows between tokens.)
public func terminalSafeJSON(_ json: String) -> String {
    var result = String.UnicodeScalarView()
    for scalar in json.unicodeScalars {
        switch scalar.value {
        case 0x00...0x08, 0x0B, 0x0C, 0x0E...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069:
            let hex = String(scalar.value, radix: 16, uppercase: true)
            result.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).unicodeScalars)
        default:
            result.append(scalar)
        }
    }
    return String(result)
}
