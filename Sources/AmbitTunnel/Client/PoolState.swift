/// The client pool's bookkeeping, as a value: which connection a new stream goes to, when
/// a new connection is needed, which idle connections are due to close. Time comes in as
/// an argument, so the idle rules are tested without a clock.
///
/// Rules:
/// - a stream goes to the first connection of its key that is not draining and has a free
///   slot (`capacity`, at most 100, fewer if the server says so), even one still connecting:
///   a burst of 50 streams to a new destination opens one connection, not 50;
/// - when every connection is full, a new one is opened;
/// - a connection with no streams for `idleTimeout` is closed;
/// - a connection that got GOAWAY takes no new streams and is dropped when its last
///   stream ends.
struct PoolState<Key: Hashable & Sendable>: Sendable {
    struct Connection: Equatable, Sendable {
        let id: Int
        var streams: Int
        var capacity: Int
        var draining = false
        /// When the last stream ended; nil while streams are open.
        var idleSince: Double?
    }

    enum Reservation: Equatable, Sendable {
        /// Open a stream on this existing (maybe still connecting) connection.
        case existing(Int)
        /// Open a new connection with this id; the stream takes its first slot.
        case new(Int)
    }

    private(set) var connections: [Key: [Connection]] = [:]
    private var nextID = 1
    let maximumStreams: Int

    init(maximumStreams: Int) {
        self.maximumStreams = max(1, maximumStreams)
    }

    var connectionCount: Int { connections.values.reduce(0) { $0 + $1.count } }

    mutating func reserve(_ key: Key) -> Reservation {
        if let index = connections[key]?.firstIndex(where: { !$0.draining && $0.streams < $0.capacity }) {
            connections[key]![index].streams += 1
            connections[key]![index].idleSince = nil
            return .existing(connections[key]![index].id)
        }
        let id = nextID
        nextID += 1
        connections[key, default: []].append(Connection(id: id, streams: 1, capacity: maximumStreams))
        return .new(id)
    }

    /// A stream ended. Returns true if the connection should now be closed (draining and empty).
    mutating func release(_ key: Key, id: Int, now: Double) -> Bool {
        guard let index = connections[key]?.firstIndex(where: { $0.id == id }) else { return false }
        connections[key]![index].streams = max(0, connections[key]![index].streams - 1)
        guard connections[key]![index].streams == 0 else { return false }
        if connections[key]![index].draining {
            remove(key, id: id)
            return true
        }
        connections[key]![index].idleSince = now
        return false
    }

    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS arrived.
    mutating func setCapacity(_ key: Key, id: Int, serverLimit: Int) {
        guard let index = connections[key]?.firstIndex(where: { $0.id == id }) else { return }
        connections[key]![index].capacity = max(1, min(maximumStreams, serverLimit))
    }

    /// GOAWAY arrived: no new streams. Returns true if it is empty and should close now.
    mutating func drain(_ key: Key, id: Int) -> Bool {
        guard let index = connections[key]?.firstIndex(where: { $0.id == id }) else { return false }
        connections[key]![index].draining = true
        if connections[key]![index].streams == 0 {
            remove(key, id: id)
            return true
        }
        return false
    }

    /// The connection closed or failed to connect.
    mutating func remove(_ key: Key, id: Int) {
        connections[key]?.removeAll { $0.id == id }
        if connections[key]?.isEmpty == true { connections[key] = nil }
    }

    /// Removes and returns the connections idle for at least `idleTimeout` seconds.
    mutating func expireIdle(now: Double, idleTimeout: Double) -> [(Key, Int)] {
        var expired: [(Key, Int)] = []
        for (key, list) in connections {
            for c in list where c.streams == 0 {
                if let since = c.idleSince, now - since >= idleTimeout { expired.append((key, c.id)) }
            }
        }
        for (key, id) in expired { remove(key, id: id) }
        return expired
    }
}
