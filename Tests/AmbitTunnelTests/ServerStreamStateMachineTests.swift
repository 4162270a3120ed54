import AmbitCore
import NIOCore
import NIOHPACK
import Testing

@testable import AmbitTunnel

struct ServerStreamStateMachineTests {
    let peer = try! SpiffeID(parsing: "spiffe://cluster.local/ns/a/sa/client")
    var machine: ServerStreamStateMachine { ServerStreamStateMachine(peer: peer, peerAddress: nil, maximumPreface: 1024) }
    let connect = HPACKHeaders([(":method", "CONNECT"), (":authority", "10.0.0.5:8080"), ("forwarded", "for=\"10.0.0.9:5555\"")])
    let target = try! SocketAddress(ipAddress: "10.0.0.5", port: 8080)

    @Test func theHappyPath() {
        var m = machine
        guard case .decide(let box) = m.headersReceived(connect, endStream: false) else {
            Issue.record("expected a decision")
            return
        }
        #expect(box.request.authority == HostPort(host: "10.0.0.5", port: 8080))
        #expect(box.request.forwardedFor == "10.0.0.9:5555")
        #expect(box.request.peer == peer)
        #expect(m.decided(.forward(to: target)) == .dial(target))
        #expect(m.dialSucceeded() == .establish(.init(preface: Tunnel.Preface())))
    }

    @Test func dataBeforeTheTunnelIsKeptAsPreface() {
        var m = machine
        _ = m.headersReceived(connect, endStream: false)
        #expect(m.dataReceived(ByteBuffer(string: "early"), endStream: false) == .none)
        _ = m.decided(.forward(to: target))
        #expect(m.dataReceived(ByteBuffer(string: "bytes"), endStream: true) == .none)
        guard case .establish(let box) = m.dialSucceeded() else {
            Issue.record("expected establish")
            return
        }
        #expect(box.preface.count == 10)
        #expect(box.preface.ended)
    }

    @Test func tooMuchEarlyDataResetsTheStream() {
        var m = machine
        _ = m.headersReceived(connect, endStream: false)
        guard case .reset = m.dataReceived(ByteBuffer(repeating: 0, count: 2000), endStream: false) else {
            Issue.record("expected a reset")
            return
        }
    }

    @Test(arguments: [
        ([(":method", "GET"), (":authority", "10.0.0.5:80")], "only CONNECT"),
        ([(":method", "CONNECT")], "no single :authority"),
        ([(":method", "CONNECT"), (":authority", "10.0.0.5")], ":authority"),
        ([(":method", "CONNECT"), (":authority", "10.0.0.5:80"), (":path", "/")], "must not carry :path"),
        ([(":method", "CONNECT"), (":authority", "10.0.0.5:80"), (":protocol", "websocket")], "must not carry :protocol"),
        ([(":authority", "10.0.0.5:80")], "no single :method"),
    ])
    func malformedRequestsGet400(_ headers: [(String, String)], _ reason: String) {
        var m = machine
        guard case .respond(let status, let message) = m.headersReceived(HPACKHeaders(headers), endStream: false) else {
            Issue.record("expected a 400")
            return
        }
        #expect(status == 400)
        #expect(message.contains(reason), "\(message)")
    }

    @Test func decisionsMapToStatusCodes() {
        for (decision, status) in [
            (ConnectDecision.deny(reason: "x"), 401), (.unavailable(reason: "x"), 503), (.reject(reason: "x"), 400),
        ] {
            var m = machine
            _ = m.headersReceived(connect, endStream: false)
            #expect(m.decided(decision) == .respond(status: status, reason: "x"))
        }
    }

    @Test func aFailedDialIs503() {
        var m = machine
        _ = m.headersReceived(connect, endStream: false)
        _ = m.decided(.forward(to: target))
        guard case .respond(503, let reason) = m.dialFailed(ChannelError.connectTimeout(.seconds(5)), address: target) else {
            Issue.record("expected 503")
            return
        }
        #expect(reason.contains("cannot connect"))
    }

    @Test func theStreamClosingWhileDiallingAbandonsTheDial() {
        var m = machine
        _ = m.headersReceived(connect, endStream: false)
        _ = m.decided(.forward(to: target))
        #expect(m.streamClosed() == .abandon)
        #expect(m.dialSucceeded() == .abandon, "a dial that completes afterwards is dropped")
    }

    @Test func dataBeforeHeadersIsAProtocolViolation() {
        var m = machine
        guard case .reset = m.dataReceived(ByteBuffer(string: "x"), endStream: false) else {
            Issue.record("expected a reset")
            return
        }
    }
}

extension ServerStreamStateMachineTests {
    @Test func aTerminateDecisionEstablishesWithoutDiallingAndKeepsEarlyBytes() {
        var m = machine
        _ = m.headersReceived(connect, endStream: false)
        _ = m.dataReceived(ByteBuffer(string: "GET / HTTP/1.1\r\n"), endStream: false)
        guard case .terminate(let preface, _) = m.decided(.terminate(LocalStream { _ in })) else {
            Issue.record("expected the stream to be served locally")
            return
        }
        #expect(preface.preface.count == 16)
        #expect(m.streamClosed() == .none, "an established stream closing is no abandonment")
    }
}
