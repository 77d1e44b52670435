/// Conversations: X3DH session establishment, the Double Ratchet, contacts and history.
public enum ConversationsModule {}
