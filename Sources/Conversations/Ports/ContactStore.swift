import Primitives

/// The client's contacts: identity keys seen, trust and request state. Kept sealed at rest.
///
/// Every method throws ``StoreError`` only.
public protocol ContactStore: Sendable {
    func contact(named username: Username) throws -> Contact?
    func saveContact(_ contact: Contact) throws
    func allContacts() throws -> [Contact]
    func removeContact(named username: Username) throws
}
