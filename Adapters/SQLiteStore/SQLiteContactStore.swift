import Conversations
import Primitives

/// ``ContactStore`` over the client's encrypted SQLite file; vended by ``SQLiteClientStore``.
/// Passes `ContactStoreContract`.
///
/// The whole contact (name, identity key, status, verification) is sealed under the keyed hash of
/// the name, so the file lists no one. ``allContacts()`` therefore opens every row and sorts by
/// name in memory: a contact list is small. Throws `StoreError` only: `.corrupt` for a record that
/// fails authentication, does not decode, or names someone else; `.unavailable` for I/O failures.
public struct SQLiteContactStore: ContactStore {
    private let database: SQLiteScope
    private let cipher: ClientRecordCipher

    init(database: SQLiteScope, cipher: ClientRecordCipher) {
        self.database = database
        self.cipher = cipher
    }

    public func contact(named username: Username) throws(StoreError) -> Contact? {
        let peerHash = cipher.peerLookup(username)
        let sealed = try database.withConnection { connection throws(StoreError) in
            try connection.queryFirst("SELECT sealed FROM contacts WHERE peer_hash = ?", [.blob(peerHash)]) { row throws(StoreError) in
                try row.blob(0)
            }
        }
        guard let sealed else { return nil }
        let contact = try cipher.openRecord(sealed, table: .contacts, lookups: [peerHash], ClientRecordCoding.decodeContact)
        guard contact.username == username else { throw StoreError.corrupt("the contact filed under \(username) is someone else") }
        return contact
    }

    public func saveContact(_ contact: Contact) throws(StoreError) {
        let peerHash = cipher.peerLookup(contact.username)
        var plaintext = ClientRecordCoding.encode(contact)
        let sealed = try cipher.seal(&plaintext, table: .contacts, lookups: [peerHash])
        try database.withConnection { connection throws(StoreError) in
            try connection.execute(
                "INSERT INTO contacts (peer_hash, sealed) VALUES (?, ?) ON CONFLICT (peer_hash) DO UPDATE SET sealed = excluded.sealed",
                [.blob(peerHash), .blob(sealed)])
        }
    }

    public func allContacts() throws(StoreError) -> [Contact] {
        let rows = try database.withConnection { connection throws(StoreError) in
            try connection.query("SELECT peer_hash, sealed FROM contacts") { row throws(StoreError) in (try row.blob(0), try row.blob(1)) }
        }
        let contacts = try rows.map { (peerHash, sealed) throws(StoreError) in
            let contact = try cipher.openRecord(sealed, table: .contacts, lookups: [peerHash], ClientRecordCoding.decodeContact)
            guard cipher.peerLookup(contact.username) == peerHash else { throw StoreError.corrupt("a contact is filed under another name") }
            return contact
        }
        return contacts.sorted { $0.username < $1.username }
    }

    public func removeContact(named username: Username) throws(StoreError) {
        let peerHash = cipher.peerLookup(username)
        try database.withConnection { connection throws(StoreError) in
            try connection.execute("DELETE FROM contacts WHERE peer_hash = ?", [.blob(peerHash)])
        }
    }
}
