import Conversations
import Envelope
import Prekeys
import Primitives
import WireProtocol

extension ParleyClient {
    static let nextOneTimePrekeyIDKey = "next-one-time-prekey-id"
    static let usernameKey = "username"
    static let handedOutPrekeysKey = "handed-out-one-time-prekeys"
    static let nextKEMPrekeyIDKey = "next-kem-prekey-id"

    /// Creates the account: a new identity key, a signed prekey and 100 one-time prekeys, kept
    /// locally (sealed) and published to the server with the password.
    public func register(username: Username, password: SecretBytes) async throws(ClientError) {
        let identity: Ed25519KeyPair
        let binding: Ed25519Signature
        let signed: SignedPrekeyPair
        let oneTime: [OneTimePrekeyPair]
        do {
            identity = try crypto.generateEd25519KeyPair(using: random)
            binding = try IdentityBinding.sign(username: username, with: identity, crypto: crypto)
            signed = try makeSignedPrekey(identity: identity)
            oneTime = try makeOneTimePrekeys(count: PrekeyPolicy.oneTimePrekeyTarget)
        } catch let error as ClientError {
            throw error
        } catch {
            throw .encryption("\(error)")
        }
        try transaction { store throws(StoreError) in
            try store.keys.setIdentityKeyPair(identity)
            try store.keys.addSignedPrekeyPair(signed)
            try store.keys.addOneTimePrekeyPairs(oneTime)
            try store.settings.setValue(Array(username.value.utf8), forKey: Self.usernameKey)
        }
        // Set before the call: deliveries may be processed as soon as the answer arrives.
        self.username = username
        self.identity = identity
        do {
            _ = try await call(.register(
                username: username, password: password, identityKey: identity.publicKey, identitySignature: binding,
                signedPrekey: signed.publicPrekey, oneTimePrekeys: oneTime.map(\.publicPrekey)))
        } catch {
            self.username = nil
            self.identity = nil
            throw error
        }
        // The ML-KEM prekeys (about 160 KiB) do not fit the small frame a connection may send
        // before it is logged in, so they follow the registration, which logged it in.
        try await maintainKEMPrekeys(identity: identity)
    }

    /// Logs in with the identity kept in this account's local store, then tops up prekeys and
    /// rotates the signed prekey when due.
    /// - Returns: how many deliveries the server has waiting (they arrive as pushes).
    @discardableResult
    public func logIn(username: Username, password: SecretBytes) async throws(ClientError) -> Int {
        guard let identity = try stored({ () throws(StoreError) in try stores.keys.identityKeyPair() }) else {
            throw .storage(.notFound("this device has no identity for \(username); register first"))
        }
        // Set before the call: deliveries follow the answer at once and need the identity.
        self.username = username
        self.identity = identity
        let response: Response.Body
        do {
            response = try await call(.login(username: username, password: password))
        } catch {
            self.username = nil
            self.identity = nil
            throw error
        }
        try await maintainPrekeys()
        // Resends a crash or a failure left undone.
        await resendPendingMessages()
        // The stream tells subscribers when the account is online (best effort: a failed write
        // only loses this notice, never a message).
        _ = try? transaction { store throws(StoreError) in
            try store.eventLog.append(.connection(connected: true, reason: "logged in"), at: now())
        }
        if case .loggedIn(let pending) = response { return Int(pending) }
        return 0
    }

    /// Ends the session on the server. Local history and keys stay.
    public func logOut() async throws(ClientError) {
        _ = try await call(.logout)
        username = nil
        identity = nil
    }

    /// Deletes the account on the server (re-authenticated with the password). The caller then
    /// erases the local account folder.
    public func deleteAccount(password: SecretBytes) async throws(ClientError) {
        _ = try requireSession()
        _ = try await call(.deleteAccount(password: password))
        username = nil
        identity = nil
    }

    /// Erases the secrets of one-time prekeys the server handed out that no message used for
    /// 30 days, tops up one-time prekeys when the server holds fewer than the low-water mark,
    /// rotates the signed prekey after 7 days, and erases retired signed prekeys after 14 more.
    public func maintainPrekeys() async throws(ClientError) {
        let (_, identity) = try requireSession()
        guard case .prekeyStatus(let heldIDs) = try await call(.prekeyStatus) else { return }
        // Before new ones are made: only ids published by then can be missing from the answer.
        // Housekeeping, never a reason to fail a login: if the store refuses now (a full disk),
        // the same ids are found missing again at the next upkeep and nothing is lost.
        try? expireHandedOutPrekeys(serverHolds: Set(heldIDs))
        let missing = PrekeyPolicy.oneTimePrekeysToGenerate(serverCount: heldIDs.count)
        var newOneTime: [OneTimePrekeyPair] = []
        if missing > 0 {
            do { newOneTime = try makeOneTimePrekeys(count: missing) } catch { throw .encryption("\(error)") }
            try stored { () throws(StoreError) in try stores.keys.addOneTimePrekeyPairs(newOneTime) }
        }
        let now = now()
        let signedPrekeys = try stored { () throws(StoreError) in try stores.keys.signedPrekeyPairs() }
        var newSigned: SignedPrekeyPair?
        let byAge = signedPrekeys.sorted { $0.createdAt < $1.createdAt }
        if let current = byAge.last, current.createdAt.adding(PrekeyPolicy.signedPrekeyRotation) <= now {
            do { newSigned = try makeSignedPrekey(identity: identity) } catch { throw .encryption("\(error)") }
        }
        // A key is retired when its successor is made; its secret is kept for messages in flight
        // for the retention period after that, then erased.
        for (retired, successor) in zip(byAge, byAge.dropFirst()) where successor.createdAt.adding(PrekeyPolicy.signedPrekeyRetention) <= now {
            try stored { () throws(StoreError) in try stores.keys.removeSignedPrekeyPair(id: retired.id) }
        }
        if let newSigned { try stored { () throws(StoreError) in try stores.keys.addSignedPrekeyPair(newSigned) } }
        if newSigned != nil || !newOneTime.isEmpty {
            _ = try await call(.publishPrekeys(signedPrekey: newSigned?.publicPrekey, oneTimePrekeys: newOneTime.map(\.publicPrekey)))
        }
        try await maintainKEMPrekeys(identity: identity)
    }

    /// The ML-KEM side of prekey upkeep (PQXDH): tops up one-time ML-KEM prekeys when the server
    /// holds fewer than the low-water mark; publishes a new last-resort key when the server has
    /// none (a fresh registration, or an account upgraded from a client that predates PQXDH) or
    /// not this device's current one, and when the current one is as old as a signed prekey's
    /// rotation; erases retired last-resort secrets after the signed prekey's retention.
    func maintainKEMPrekeys(identity: Ed25519KeyPair) async throws(ClientError) {
        guard case let .kemPrekeyStatus(heldIDs, lastResortID) = try await call(.kemPrekeyStatus) else { return }
        let now = now()
        let local = try stored { () throws(StoreError) in try stores.keys.kemPrekeyPairs() }
        let lastResorts = local.filter(\.isLastResort).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        let current = lastResorts.last
        let needsLastResort = current == nil || current?.id != lastResortID || current!.createdAt.adding(PrekeyPolicy.signedPrekeyRotation) <= now
        let missing = PrekeyPolicy.oneTimePrekeysToGenerate(serverCount: heldIDs.count)
        var fresh: [KEMPrekeyPair] = []
        do {
            if needsLastResort { fresh += try makeKEMPrekeys(count: 1, lastResort: true, identity: identity) }
            if missing > 0 { fresh += try makeKEMPrekeys(count: missing, lastResort: false, identity: identity) }
        } catch let error as ClientError {
            throw error
        } catch {
            throw .encryption("\(error)")
        }
        // As for signed prekeys: a last-resort key is retired when its successor is made, and its
        // secret kept for messages in flight for the retention period after that.
        for (retired, successor) in zip(lastResorts, lastResorts.dropFirst()) where successor.createdAt.adding(PrekeyPolicy.signedPrekeyRetention) <= now {
            try stored { () throws(StoreError) in try stores.keys.removeKEMPrekeyPair(id: retired.id) }
        }
        guard !fresh.isEmpty else { return }
        try stored { () throws(StoreError) in try stores.keys.addKEMPrekeyPairs(fresh) }
        _ = try await call(.publishKEMPrekeys(
            lastResort: fresh.first(where: \.isLastResort)?.publicPrekey, oneTime: fresh.filter { !$0.isLastResort }.map(\.publicPrekey)))
    }

    /// ML-KEM prekeys signed by `identity`, with ids from a persistent counter (never repeated on
    /// this device, one counter for last-resort and one-time keys).
    func makeKEMPrekeys(count: Int, lastResort: Bool, identity: Ed25519KeyPair) throws -> [KEMPrekeyPair] {
        let stored = try stores.settings.value(forKey: Self.nextKEMPrekeyIDKey)
        var next: UInt32 = stored.flatMap { bytes in bytes.count == 4 ? bytes.reduce(0) { $0 << 8 | UInt32($1) } : nil } ?? 1
        var pairs: [KEMPrekeyPair] = []
        let created = now()
        for _ in 0..<count {
            let keyPair = try kem.generateMLKEMKeyPair(using: random)
            let signature = try crypto.sign(KEMPrekey.signedMessage(id: next, publicKey: keyPair.publicKey), with: identity.secretKey)
            pairs.append(KEMPrekeyPair(id: next, keyPair: keyPair, signature: signature, isLastResort: lastResort, createdAt: created))
            next &+= 1
        }
        try stores.settings.setValue(
            [UInt8(next >> 24), UInt8(truncatingIfNeeded: next >> 16), UInt8(truncatingIfNeeded: next >> 8), UInt8(truncatingIfNeeded: next)],
            forKey: Self.nextKEMPrekeyIDKey)
        return pairs
    }

    /// Applies ``HandedOutPrekeys/reconciling(serverHolds:nextID:now:hasSecret:)`` in one
    /// transaction: the erasures and the new record together.
    func expireHandedOutPrekeys(serverHolds held: Set<UInt32>) throws(ClientError) {
        let now = now()
        try transaction { store throws(StoreError) in
            let nextID = try Self.nextOneTimePrekeyID(store.settings)
            var current = HandedOutPrekeys()
            if let bytes = try store.settings.value(forKey: Self.handedOutPrekeysKey) {
                do { current = try HandedOutPrekeys(decoding: bytes) } catch { throw .corrupt("handed-out one-time prekeys: \(error)") }
            }
            let keys = store.keys
            let decision = try current.reconciling(serverHolds: held, nextID: nextID, now: now) { id throws(StoreError) in
                try keys.oneTimePrekeyPair(id: id) != nil
            }
            for id in decision.expired { try keys.removeOneTimePrekeyPair(id: id) }
            // A moved floor alone is not worth a write (it only saves lookups next time).
            if decision.next.firstSeenMissing != current.firstSeenMissing || !decision.expired.isEmpty {
                try store.settings.setValue(decision.next.encoded(), forKey: Self.handedOutPrekeysKey)
            }
        }
    }

    /// The id the next one-time prekey will get (1 before the first).
    static func nextOneTimePrekeyID(_ settings: any ClientSettingsStore) throws(StoreError) -> UInt32 {
        let stored = try settings.value(forKey: nextOneTimePrekeyIDKey)
        return stored.flatMap { bytes in bytes.count == 4 ? bytes.reduce(0) { $0 << 8 | UInt32($1) } : nil } ?? 1
    }

    func makeSignedPrekey(identity: Ed25519KeyPair) throws -> SignedPrekeyPair {
        let keyPair = try crypto.generateX25519KeyPair(using: random)
        let id = random.uint32()
        let signature = try crypto.sign(SignedPrekey.signedMessage(id: id, publicKey: keyPair.publicKey), with: identity.secretKey)
        return SignedPrekeyPair(id: id, keyPair: keyPair, signature: signature, createdAt: now())
    }

    /// One-time prekeys with ids from a persistent counter, so ids never repeat on this device.
    func makeOneTimePrekeys(count: Int) throws -> [OneTimePrekeyPair] {
        let stored = try stores.settings.value(forKey: Self.nextOneTimePrekeyIDKey)
        var next: UInt32 = stored.flatMap { bytes in bytes.count == 4 ? bytes.reduce(0) { $0 << 8 | UInt32($1) } : nil } ?? 1
        var pairs: [OneTimePrekeyPair] = []
        for _ in 0..<count {
            pairs.append(OneTimePrekeyPair(id: next, keyPair: try crypto.generateX25519KeyPair(using: random)))
            next &+= 1
        }
        try stores.settings.setValue([UInt8(next >> 24), UInt8(truncatingIfNeeded: next >> 16), UInt8(truncatingIfNeeded: next >> 8), UInt8(truncatingIfNeeded: next)], forKey: Self.nextOneTimePrekeyIDKey)
        return pairs
    }
}
