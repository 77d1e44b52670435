/// Prekeys: key bundles, signed-prekey signing and verification, the one-time prekey pool.
public enum PrekeysModule {}
