import Primitives

/// The rules a new password must meet: at least ``AccountLimits/minimumPasswordLength`` Unicode
/// scalars, at most ``AccountLimits/maximumPasswordBytes`` UTF-8 bytes, valid UTF-8, and not the
/// username (ignoring case).
///
/// Deliberately no composition rules (digits, symbols): NIST SP 800-63B advises against them; length
/// is what makes a password hard to guess. The password is examined in place in its
/// ``SecretBytes`` storage, scalar by scalar, so no `String` copy of it is ever made (a `String`
/// could not be wiped).
public enum PasswordPolicy {
    /// The first rule `password` breaks for an account called `username`, or nil when it is
    /// acceptable.
    public static func rejection(for password: SecretBytes, username: Username) -> PasswordRejection? {
        guard password.count <= AccountLimits.maximumPasswordBytes else {
            return .tooLong(maximumBytes: AccountLimits.maximumPasswordBytes, got: password.count)
        }
        let usernameScalars = Array(username.value.unicodeScalars)
        let scan: (length: Int, matchesUsername: Bool)? = password.withUnsafeBytes { bytes in
            var iterator = bytes.makeIterator()
            var decoder = UTF8()
            var length = 0
            var matchesUsername = true
            while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let scalar):
                    // A username is ASCII lower case, so folding ASCII upper case is the whole of
                    // "case-insensitive" here.
                    let folded = ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
                    if length >= usernameScalars.count || usernameScalars[length] != folded {
                        matchesUsername = false
                    }
                    length += 1
                case .emptyInput:
                    return (length, matchesUsername && length == usernameScalars.count)
                case .error:
                    return nil
                }
            }
        }
        guard let scan else { return .notUTF8 }
        if scan.length < AccountLimits.minimumPasswordLength {
            return .tooShort(minimum: AccountLimits.minimumPasswordLength, got: scan.length)
        }
        if scan.matchesUsername { return .sameAsUsername }
        return nil
    }
}
