import ClientCore

/// The sealed settings table is the client application's ``ClientSettingsStore``.
extension SQLiteClientSettings: ClientSettingsStore {}
