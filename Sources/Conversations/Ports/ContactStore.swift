import Primitives

/// The client's contacts: identity keys seen, trust and request state. Kept sealed at rest.
///
/// Every method throws ``StoreError`` only, as its signature says.
public protocol ContactStore: Sendable {
    func contact(named username: Username) throws(StoreError) -> Contact?
    func saveContact(_ contact: Contact) throws(StoreError)
    func allContacts() throws(StoreError) -> [Contact]
    func removeContact(named username: Username) throws(StoreError)
}
