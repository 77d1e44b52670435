/// One step of a schema's history: the statements that take it from `version - 1` to `version`.
///
/// Versions are recorded in `PRAGMA user_version`. Migrations are only ever appended, never
/// edited once released, so every database, whatever version it was created at, reaches the same
/// schema.
struct SQLiteMigration: Sendable {
    let version: Int
    /// What the step does, for error messages.
    let summary: String
    /// Single statements, run in order inside the migration transaction.
    let statements: [String]
}
