import Primitives

/// The person's preferences the client application keeps in ``ClientSettingsStore`` (sealed like
/// the rest of the database), under names of their own.
enum ClientSettings {
    /// Whether every received image is also written in clear to the image library. Off unless the
    /// person turned it on: a clear file is readable by anyone who can read the disk.
    static let saveReceivedImagesKey = "save-received-images"

    /// The `save-images` setting; false when it was never set.
    static func savesReceivedImages(in settings: any ClientSettingsStore) throws(StoreError) -> Bool {
        try settings.value(forKey: saveReceivedImagesKey) == [1]
    }

    static func setSavesReceivedImages(_ enabled: Bool, in settings: any ClientSettingsStore) throws(StoreError) {
        try settings.setValue([enabled ? 1 : 0], forKey: saveReceivedImagesKey)
    }
}
