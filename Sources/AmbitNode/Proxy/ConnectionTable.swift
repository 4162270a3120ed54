import AmbitCore
import NIOConcurrencyHelpers
import NIOCore

/// The open connections of one enrolled pod: what `/connections` lists, what a drain
/// waits for, and what a policy change re-checks.
final class ConnectionTable: Sendable {
    enum Direction: String, Sendable {
        case outbound, inbound
    }

    struct Entry: Sendable {
        let id: Int
        let direction: Direction
        /// `hbone`, `plaintext` or `passthrough`.
        let mode: String
        let source: String
        let destination: String
        let peerIdentity: SpiffeID?
        let startedAt: Double
        /// For inbound connections: what authorization was decided on, re-checked when
        /// policy changes.
        let authorization: AuthorizationEvaluator.Connection?
        /// Closing it ends the connection.
        let channel: Channel
    }

    private let state = NIOLockedValueBox<(entries: [Int: Entry], next: Int)>(([:], 0))

    /// Registers a connection; it leaves the table when `channel` closes.
    func add(
        direction: Direction, mode: String, source: String, destination: String, peerIdentity: SpiffeID?,
        authorization: AuthorizationEvaluator.Connection?, channel: Channel, now: Double
    ) {
        let id = state.withLockedValue { s -> Int in
            s.next += 1
            s.entries[s.next] = Entry(
                id: s.next, direction: direction, mode: mode, source: source, destination: destination,
                peerIdentity: peerIdentity, startedAt: now, authorization: authorization, channel: channel)
            return s.next
        }
        channel.closeFuture.whenComplete { [state] _ in state.withLockedValue { _ = $0.entries.removeValue(forKey: id) } }
    }

    var entries: [Entry] { state.withLockedValue { Array($0.entries.values) }.sorted { $0.id < $1.id } }
    var count: Int { state.withLockedValue { $0.entries.count } }

    /// Closes (resets) the inbound connections `stillAllowed` now refuses; returns how many.
    @discardableResult
    func closeDenied(_ stillAllowed: (Entry, AuthorizationEvaluator.Connection) -> AuthorizationEvaluator.Decision) -> [Entry] {
        let denied = entries.filter { entry in
            guard let facts = entry.authorization else { return false }
            return !stillAllowed(entry, facts).isAllowed
        }
        for entry in denied { entry.channel.close(promise: nil) }
        return denied
    }

    func closeAll() {
        for entry in entries { entry.channel.close(promise: nil) }
    }
}
