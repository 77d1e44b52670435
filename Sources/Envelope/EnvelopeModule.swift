/// Envelope: the versioned binary encoding of what travels end to end.
public enum EnvelopeModule {}
