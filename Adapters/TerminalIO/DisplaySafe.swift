/// Makes untrusted text (a peer's message, a username) harmless to print on a terminal.
///
/// A message is attacker-controlled: raw control characters in it could move the cursor, clear the
/// screen, retitle the window or fake a line from someone else (`\r` followed by a forged sender).
/// Every C0 control except newline, DEL, every C1 control (which some terminals treat as escapes) and
/// the bidirectional override and isolate characters (which reorder what is displayed, as in
/// "Trojan Source") become U+FFFD; a tab becomes a space. Newlines are kept, so a multi-line message
/// still reads as one. Apply it to peer text before styling it, never to the styled result.
public func displaySafe(_ untrusted: String) -> String {
    var result = String.UnicodeScalarView()
    for scalar in untrusted.unicodeScalars {
        switch scalar.value {
        case 0x0A:
            result.append(scalar)
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
