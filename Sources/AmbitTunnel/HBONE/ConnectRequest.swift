import AmbitCore
import NIOCore
import NIOHPACK

/// One HBONE CONNECT as the server sees it, after TLS has verified the peer.
public struct ConnectRequest: Sendable, CustomStringConvertible {
    /// The verified SPIFFE identity of the peer (the source workload, or a waypoint).
    public let peer: SpiffeID
    /// The TCP address the tunnel connection came from.
    public let peerAddress: SocketAddress?
    /// Where the source wants to go: `<ip>:<port>` of a workload, or a service host:port
    /// when the peer is talking to a waypoint.
    public let authority: HostPort
    /// `forwarded: for="<ip:port>"`: the source's original address, as the source node saw it.
    public let forwarded: String?
    /// W3C baggage with the source workload's name/namespace/service/version.
    public let baggage: String?
    /// W3C trace context, passed on untouched.
    public let traceparent: String?

    public init(
        peer: SpiffeID, peerAddress: SocketAddress?, authority: HostPort, forwarded: String? = nil,
        baggage: String? = nil, traceparent: String? = nil
    ) {
        self.peer = peer
        self.peerAddress = peerAddress
        self.authority = authority
        self.forwarded = forwarded
        self.baggage = baggage
        self.traceparent = traceparent
    }

    /// The address in `forwarded: for="..."`, if present and well formed.
    public var forwardedFor: String? {
        guard let forwarded else { return nil }
        for element in forwarded.split(separator: ";").flatMap({ $0.split(separator: ",") }) {
            let pair = element.trimmingSpaces.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].lowercased() == "for" else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
            return String(value)
        }
        return nil
    }

    public var description: String { "CONNECT \(authority) from \(peer)" }

    // MARK: - Wire form

    /// Parses the request HEADERS of a stream. `nil` peer means TLS gave no identity, which
    /// the server never allows; the caller checks that first.
    static func parse(_ headers: HPACKHeaders, peer: SpiffeID, peerAddress: SocketAddress?) -> Result<ConnectRequest, TunnelError> {
        func bad(_ reason: String) -> Result<ConnectRequest, TunnelError> {
            .failure(TunnelError(.badRequest, reason))
        }
        let methods = headers[":method"]
        guard methods.count == 1, let method = methods.first else { return bad("the request has no single :method") }
        guard method == "CONNECT" else { return bad("HBONE accepts only CONNECT, got \(method)") }
        // Classic CONNECT (RFC 9113 §8.5) has no :scheme and no :path; extended CONNECT
        // (:protocol) is a different thing that HBONE does not speak.
        for forbidden in [":scheme", ":path", ":protocol"] where headers.contains(name: forbidden) {
            return bad("a CONNECT request must not carry \(forbidden)")
        }
        let authorities = headers[":authority"]
        guard authorities.count == 1, let authorityText = authorities.first else {
            return bad("the request has no single :authority")
        }
        let authority: HostPort
        do { authority = try HostPort(parsing: authorityText) } catch { return bad(":authority: \(error.message)") }
        return .success(
            ConnectRequest(
                peer: peer, peerAddress: peerAddress, authority: authority,
                forwarded: headers.first(name: "forwarded"), baggage: headers.first(name: "baggage"),
                traceparent: headers.first(name: "traceparent")))
    }
}

/// What the client puts in a CONNECT besides the authority.
public struct ConnectHead: Sendable {
    public var authority: HostPort
    /// The source's address as the source node saw it, sent as `forwarded: for="…"`.
    public var sourceAddress: String?
    public var baggage: String?
    public var traceparent: String?

    public init(authority: HostPort, sourceAddress: String? = nil, baggage: String? = nil, traceparent: String? = nil) {
        self.authority = authority
        self.sourceAddress = sourceAddress
        self.baggage = baggage
        self.traceparent = traceparent
    }

    var headers: HPACKHeaders {
        var h = HPACKHeaders([(":method", "CONNECT"), (":authority", authority.description)])
        if let sourceAddress { h.add(name: "forwarded", value: "for=\"\(sourceAddress)\"") }
        if let baggage { h.add(name: "baggage", value: baggage) }
        if let traceparent { h.add(name: "traceparent", value: traceparent) }
        return h
    }
}

/// What the server's decision function answers for one CONNECT.
public enum ConnectDecision: Sendable {
    /// Dial this address and glue the stream to it.
    case forward(to: SocketAddress)
    /// 401: an authorization policy denies it. The reason goes to the server's log only.
    case deny(reason: String)
    /// 503: no such destination here.
    case unavailable(reason: String)
    /// 400: the request is malformed in a way only the decision function can see.
    case reject(reason: String)
    /// 200, and the stream is served in this process instead of being dialled: a waypoint
    /// terminates its tunnels to read the HTTP inside.
    case terminate(LocalStream)
}

/// How a terminated CONNECT stream is served: `initialize` runs on the stream's event loop
/// once 200 is sent and adds the handlers that speak the tunnelled protocol. They see the
/// stream as a socket: `ByteBuffer` in and out, END_STREAM as `ChannelEvent.inputClosed`,
/// `close(mode: .output)` as END_STREAM. Bytes that arrived with the CONNECT are delivered
/// after `initialize`, so they are never lost. The stream reads with `autoRead` on; a
/// handler that needs backpressure holds back `read()`.
public struct LocalStream: Sendable {
    public let initialize: @Sendable (Channel) throws -> Void

    public init(_ initialize: @escaping @Sendable (Channel) throws -> Void) {
        self.initialize = initialize
    }
}

/// The status codes HBONE answers with, and what the client makes of them.
enum HBONEStatus {
    static let established = "200"
    static let badRequest = "400"
    static let denied = "401"
    static let unavailable = "503"

    /// A header carrying the server's reason on 400 and 503, so a client's error can say
    /// more than a number. Never sent with 401: a denied peer learns nothing about policy.
    static let reasonHeader = "x-ambit-reason"

    static func clientError(status: String, reason: String?, destination: String) -> TunnelError {
        let detail = reason.map { ": \($0)" } ?? ""
        switch status {
        case badRequest:
            return TunnelError(.badRequest, "the HBONE server at \(destination) rejected the CONNECT as malformed\(detail)")
        case denied:
            return TunnelError(
                .denied, "the HBONE server at \(destination) denied the connection; an AuthorizationPolicy on the destination does not allow this source")
        case unavailable:
            return TunnelError(
                .unavailable, "the HBONE server at \(destination) could not reach the destination\(detail)")
        default:
            return TunnelError(.protocolError, "the HBONE server at \(destination) answered with status \(status)\(detail)")
        }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
