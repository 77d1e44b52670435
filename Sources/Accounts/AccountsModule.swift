/// Accounts: usernames, password policy, registration, login and deletion, login throttling.
/// Filled by the protocol-core work; see Architecture.md.
public enum AccountsModule {}
