import Conversations
import Primitives
import Synchronization

/// ``ContactStore`` in memory.
public final class InMemoryContactStore: ContactStore {
    private let contacts = Mutex([Username: Contact]())

    public init() {}

    public func contact(named username: Username) throws -> Contact? { contacts.withLock { $0[username] } }

    public func saveContact(_ contact: Contact) throws {
        contacts.withLock { $0[contact.username] = contact }
    }

    public func allContacts() throws -> [Contact] {
        contacts.withLock { $0.values.sorted { $0.username < $1.username } }
    }

    public func removeContact(named username: Username) throws {
        contacts.withLock { _ = $0.removeValue(forKey: username) }
    }
}
