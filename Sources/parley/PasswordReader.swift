import Foundation
import Primitives
import TerminalIO

/// Reads the account password: one line of standard input with `--password-stdin`, else a prompt
/// with echo off on the terminal.
///
/// The password goes from the editor's byte buffer (wiped once read) straight into `SecretBytes`:
/// it never becomes a `String`, which nothing could wipe.
enum PasswordReader {
    static func read(options: GlobalOptions, editor: LineEditor, prompt: String, confirm: Bool = false) async throws -> SecretBytes {
        if options.passwordStdin {
            guard let line = await secret(editor, prompt: "") else { throw CLIError.usage("--password-stdin: no password on standard input") }
            return line
        }
        guard editor.isInteractive else {
            throw CLIError.usage("no terminal to ask for the password; use --password-stdin")
        }
        guard let first = await secret(editor, prompt: prompt) else { throw CLIError.usage("no password given") }
        if confirm {
            guard let second = await secret(editor, prompt: "Repeat the password: ") else { throw CLIError.usage("no password given") }
            guard second == first else { throw CLIError.usage("the passwords do not match") }
        }
        return first
    }

    /// One password read from `editor`, in secret storage; nil when none was entered.
    static func secret(_ editor: LineEditor, prompt: String) async -> SecretBytes? {
        await editor.readPassword(prompt: prompt) { SecretBytes(copying: $0) }
    }
}
