/// Turns the byte stream a terminal sends in raw mode into ``Key``s, one byte at a time.
///
/// Feeding one byte at a time (rather than a whole chunk) lets the editor stop exactly after Enter
/// and keep the rest of a paste for the next `readLine`. The decoder understands what xterm-style
/// terminals send: ASCII control keys, UTF-8 sequences, `ESC [ … final` (CSI) and `ESC O x` (SS3).
/// Anything it does not know — function keys, mouse reports, invalid UTF-8, Alt-combinations — is
/// consumed whole and dropped, so it never leaks stray bytes such as `[15~` into the line. A control
/// byte in the middle of a sequence aborts the sequence and is decoded on its own, so a garbled
/// sequence cannot swallow Enter or Ctrl-C.
struct KeyDecoder {
    private enum State: Equatable {
        case ground
        /// After ESC.
        case escape
        /// Inside `ESC [`, collecting parameter and intermediate bytes.
        case controlSequence
        /// Inside an over-long CSI: skip up to its final byte.
        case skippingControlSequence
        /// After `ESC O`.
        case singleShift
        /// Inside a multi-byte UTF-8 sequence, with this many continuation bytes still to come.
        case utf8(remaining: Int)
    }

    private var state: State = .ground
    private var pending: [UInt8] = []
    /// Enter sends CR; a pasted CR LF must not count as two Enters.
    private var previousWasCarriageReturn = false

    /// Whether bytes of an unfinished sequence are held back (the editor then waits only briefly for
    /// the rest, see ``TerminalLimits/escapeTimeoutMilliseconds``, before calling ``flush()``).
    var isInsideSequence: Bool { state != .ground }

    /// Drops an unfinished sequence: a bare Escape press, or a sequence cut off by a slow link.
    mutating func flush() {
        state = .ground
        pending.removeAll(keepingCapacity: true)
    }

    /// Consumes one byte; returns the key it completes, if any.
    mutating func feed(_ byte: UInt8) -> Key? {
        let afterCarriageReturn = previousWasCarriageReturn
        previousWasCarriageReturn = false
        switch state {
        case .ground:
            return ground(byte, afterCarriageReturn: afterCarriageReturn)
        case .escape:
            switch byte {
            case UInt8(ascii: "["):
                state = .controlSequence
                pending.removeAll(keepingCapacity: true)
                return nil
            case UInt8(ascii: "O"):
                state = .singleShift
                return nil
            case 0x1B:
                return nil  // ESC ESC: still one escape pending
            case UInt8(ascii: "b"):
                state = .ground
                return .wordLeft
            case UInt8(ascii: "f"):
                state = .ground
                return .wordRight
            case ..<0x20, 0x7F:
                state = .ground
                return ground(byte, afterCarriageReturn: false)
            default:
                state = .ground  // Alt-<key> we do not bind: dropped
                return nil
            }
        case .controlSequence:
            switch byte {
            case 0x20...0x3F:
                if pending.count >= TerminalLimits.maxEscapeSequenceBytes {
                    state = .skippingControlSequence
                } else {
                    pending.append(byte)
                }
                return nil
            case 0x40...0x7E:
                state = .ground
                let key = Self.controlSequenceKey(parameters: pending, final: byte)
                pending.removeAll(keepingCapacity: true)
                return key
            default:
                state = .ground
                pending.removeAll(keepingCapacity: true)
                return ground(byte, afterCarriageReturn: false)
            }
        case .skippingControlSequence:
            switch byte {
            case 0x20...0x3F:
                return nil
            case 0x40...0x7E:
                state = .ground
                return nil
            default:
                state = .ground
                return ground(byte, afterCarriageReturn: false)
            }
        case .singleShift:
            state = .ground
            switch byte {
            case UInt8(ascii: "A"): return .up
            case UInt8(ascii: "B"): return .down
            case UInt8(ascii: "C"): return .right
            case UInt8(ascii: "D"): return .left
            case UInt8(ascii: "H"): return .home
            case UInt8(ascii: "F"): return .end
            case 0x40...0x7E: return nil  // F1-F4 and keypad keys
            default: return ground(byte, afterCarriageReturn: false)
            }
        case .utf8(let remaining):
            guard byte & 0xC0 == 0x80 else {
                // A truncated sequence: drop it and decode this byte afresh.
                state = .ground
                pending.removeAll(keepingCapacity: true)
                return ground(byte, afterCarriageReturn: false)
            }
            pending.append(byte)
            if remaining > 1 {
                state = .utf8(remaining: remaining - 1)
                return nil
            }
            state = .ground
            defer { pending.removeAll(keepingCapacity: true) }
            // `String(validating:)` rejects overlong forms and surrogates that the lead-byte ranges
            // below still let through.
            guard let decoded = String(validating: pending, as: UTF8.self),
                let scalar = decoded.unicodeScalars.first,
                !(0x80...0x9F).contains(scalar.value)
            else { return nil }
            return .character(Character(scalar))
        }
    }

    private mutating func ground(_ byte: UInt8, afterCarriageReturn: Bool) -> Key? {
        switch byte {
        case 0x1B:
            state = .escape
            return nil
        case 0x0D:
            previousWasCarriageReturn = true
            return .enter
        case 0x0A:
            return afterCarriageReturn ? nil : .enter
        case 0x7F, 0x08: return .backspace
        case 0x01: return .home
        case 0x02: return .left
        case 0x03: return .interrupt
        case 0x04: return .endOfTransmission
        case 0x05: return .end
        case 0x06: return .right
        case 0x0B: return .killToEnd
        case 0x0C: return .redraw
        case 0x0E: return .down
        case 0x10: return .up
        case 0x15: return .killToStart
        case 0x17: return .deleteWordBackward
        case ..<0x20: return nil  // other control keys (Tab, Ctrl-Z in raw mode, …) are not bound
        case 0x20...0x7E: return .character(Character(Unicode.Scalar(byte)))
        case 0xC2...0xDF:
            state = .utf8(remaining: 1)
        case 0xE0...0xEF:
            state = .utf8(remaining: 2)
        case 0xF0...0xF4:
            state = .utf8(remaining: 3)
        default:
            return nil  // a stray continuation byte or an invalid lead byte
        }
        pending.removeAll(keepingCapacity: true)
        pending.append(byte)
        return nil
    }

    /// Maps `ESC [ parameters final` to a key; modifiers (`1;5C`) turn arrows into word motions.
    private static func controlSequenceKey(parameters: [UInt8], final: UInt8) -> Key? {
        let fields = parameters.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false)
            .map { field in Int(String(decoding: field, as: UTF8.self)) }
        let first = fields.first ?? nil
        let modifier = fields.count > 1 ? fields[1] : nil
        // xterm modifier codes: 3 = Alt, 5 = Ctrl (and 7 = Ctrl-Alt).
        let byWord = modifier.map { [3, 5, 7].contains($0) } ?? false
        switch final {
        case UInt8(ascii: "A"): return .up
        case UInt8(ascii: "B"): return .down
        case UInt8(ascii: "C"): return byWord ? .wordRight : .right
        case UInt8(ascii: "D"): return byWord ? .wordLeft : .left
        case UInt8(ascii: "H"): return .home
        case UInt8(ascii: "F"): return .end
        case UInt8(ascii: "~"):
            switch first {
            case 1, 7: return .home
            case 4, 8: return .end
            case 3: return .delete
            default: return nil  // Insert, Page Up/Down, F5-F12, paste brackets
            }
        default:
            return nil
        }
    }
}
