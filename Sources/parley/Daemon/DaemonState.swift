import ClientCore
import Primitives
import Synchronization

/// What the daemon's connections share: the account, the logged-in client while there is one
/// (nil while reconnecting), and the signal that wakes subscribers.
final class DaemonState: Sendable {
    struct Session: Sendable {
        let executor: ClientCommandExecutor
        let eventLog: any EventLog
    }

    let user: Username
    let signal = EventSignal()
    /// The outbound bytes a subscriber may have waiting before it is told it fell behind.
    let subscriberBufferBytes: Int
    /// How long a subscriber's full buffer may wait for it to read before it has fallen behind.
    let subscriberStall: Duration
    private let current = LockedValue<Session?>(nil)

    init(user: Username, subscriberBufferBytes: Int, subscriberStall: Duration) {
        self.user = user
        self.subscriberBufferBytes = subscriberBufferBytes
        self.subscriberStall = subscriberStall
    }

    var session: Session? { current.withLock { $0 } }

    func attach(_ client: ParleyClient) {
        current.withLock { $0 = Session(executor: ClientCommandExecutor(client: client), eventLog: client.eventLog) }
        signal.fire()
    }

    func detach() {
        current.withLock { $0 = nil }
        signal.fire()
    }
}
