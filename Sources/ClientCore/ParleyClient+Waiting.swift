import Primitives

extension ParleyClient {
    /// Waits until this client has handled at least `count` deliveries since it started (stored,
    /// known unreadable, or deferred after a storage error), or `timeout` passed, or the
    /// connection ended, whichever comes first; nothing polls.
    ///
    /// `parley receive` waits for the deliveries the server announced at login
    /// (``logIn(username:password:)`` returns how many), then for one more while `--wait` lasts.
    /// - Returns: whether `count` was reached.
    @discardableResult
    public func waitUntilHandled(_ count: Int, timeout: Duration) async -> Bool {
        if deliveriesHandled >= count { return true }
        if pushesEnded || timeout <= .zero { return false }
        let id = nextWaiterID
        nextWaiterID += 1
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                deliveryWaiters[id] = (count, continuation)
                Task {
                    try? await Task.sleep(for: timeout)
                    await self.expireDeliveryWaiter(id)
                }
            }
        } onCancel: {
            Task { await self.expireDeliveryWaiter(id) }
        }
    }

    /// Resumes the waiters whose count was reached (all of them once the connection ended).
    func resumeDeliveryWaiters() {
        for (id, waiter) in deliveryWaiters where pushesEnded || deliveriesHandled >= waiter.count {
            deliveryWaiters[id] = nil
            waiter.continuation.resume(returning: deliveriesHandled >= waiter.count)
        }
    }

    private func expireDeliveryWaiter(_ id: UInt64) {
        guard let waiter = deliveryWaiters.removeValue(forKey: id) else { return }
        waiter.continuation.resume(returning: deliveriesHandled >= waiter.count)
    }
}
