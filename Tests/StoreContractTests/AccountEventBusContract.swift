import Primitives
import ServerCore
import Testing

/// Makes a fresh ``AccountEventBus`` with no subscribers.
public typealias AccountEventBusFactory = @Sendable () throws -> any AccountEventBus

/// The behaviour every ``AccountEventBus`` adapter must have: events reach the user's current
/// subscribers in publication order, through either kind of subscription, and nothing reaches a
/// cancelled one.
public enum AccountEventBusContract {
    public static let checks: [ContractCheck<AccountEventBusFactory>] = [
        ContractCheck("a handler gets the user's events in order, and none after cancel") { make in
            let bus = try make()
            let (alice, bob) = (try user("alice"), try user("bob"))
            let received = LockedValue<[AccountEvent]>([])
            let subscription = bus.subscribe(alice) { event in received.withLock { $0.append(event) } }
            let events: [AccountEvent] = (0..<100).map { .prekeysLow(remaining: UInt32($0)) } + [.accountDeleted]
            for event in events { bus.publish(event, to: alice) }
            bus.publish(.prekeysLow(remaining: 7), to: bob)
            #expect(received.withLock { $0 } == events)
            subscription.cancel()
            bus.publish(.accountDeleted, to: alice)
            #expect(received.withLock { $0.count } == events.count)
            subscription.cancel()
        },
        ContractCheck("handler and stream subscribers of one user each get every event") { make in
            let bus = try make()
            let alice = try user("alice")
            let received = LockedValue<[AccountEvent]>([])
            let handler = bus.subscribe(alice) { event in received.withLock { $0.append(event) } }
            let stream = bus.subscribe(alice)
            let token = SessionToken(rawValue: 42)
            bus.publish(.sessionClaimed(token), to: alice)
            bus.publish(.accountDeleted, to: alice)
            stream.cancel()
            var streamed: [AccountEvent] = []
            for await event in stream.events { streamed.append(event) }
            #expect(streamed == [.sessionClaimed(token), .accountDeleted])
            #expect(received.withLock { $0 } == [.sessionClaimed(token), .accountDeleted])
            handler.cancel()
        },
    ]
}
