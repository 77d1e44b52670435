import Conversations
import Primitives

/// ``ContactStore`` in memory.
public final class InMemoryContactStore: ContactStore {
    private let contacts = LockedValue([Username: Contact]())

    public init() {}

    public func contact(named username: Username) throws(StoreError) -> Contact? { contacts.withLock { $0[username] } }

    public func saveContact(_ contact: Contact) throws(StoreError) {
        contacts.withLock { $0[contact.username] = contact }
    }

    public func allContacts() throws(StoreError) -> [Contact] {
        contacts.withLock { $0.values.sorted { $0.username < $1.username } }
    }

    public func removeContact(named username: Username) throws(StoreError) {
        contacts.withLock { _ = $0.removeValue(forKey: username) }
    }

    var snapshot: [Username: Contact] {
        get { contacts.withLock { $0 } }
        set { contacts.withLock { $0 = newValue } }
    }
}
