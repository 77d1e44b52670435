import Foundation
import Primitives
import TerminalIO

/// Reads the account password: one line of standard input with `--password-stdin`, else a prompt
/// with echo off on the terminal.
enum PasswordReader {
    static func read(options: GlobalOptions, editor: LineEditor, prompt: String, confirm: Bool = false) async throws -> SecretBytes {
        if options.passwordStdin {
            guard let line = await editor.readPassword(prompt: "") else { throw CLIError.usage("--password-stdin: no password on standard input") }
            return SecretBytes(copying: Array(line.utf8))
        }
        guard editor.isInteractive else {
            throw CLIError.usage("no terminal to ask for the password; use --password-stdin")
        }
        guard let first = await editor.readPassword(prompt: prompt) else { throw CLIError.usage("no password given") }
        if confirm {
            guard let second = await editor.readPassword(prompt: "Repeat the password: ") else { throw CLIError.usage("no password given") }
            guard second == first else { throw CLIError.usage("the passwords do not match") }
        }
        return SecretBytes(copying: Array(first.utf8))
    }
}
