import AmbitCore
import NIOHTTP1

/// Whether one request gets the faults of the `HTTPFault`s its rule and backend name, the
/// way Envoy's fault filter decides: each delay and each abort is drawn separately with its
/// own percentage, delays add up, and the first abort drawn answers the request (after the
/// delay, so an aborted request can also be slow, as in Envoy).
public struct FaultInjection: Sendable, Equatable {
    /// Hold the request this long before going on; nil: no delay.
    public var delay: Duration?
    /// Answer with this instead of forwarding; nil: forward.
    public var abort: LocalReply?

    public static let none = FaultInjection(delay: nil, abort: nil)

    public var isNone: Bool { delay == nil && abort == nil }

    /// `grpc`: the request is a gRPC call, so an abort is a trailers-only gRPC response.
    public static func decide(_ faults: [HTTPFault], grpc: Bool, random: inout some RandomNumberGenerator) -> FaultInjection {
        var out = FaultInjection.none
        for fault in faults {
            if let d = fault.delay, draw(d.percentage, &random) { out.delay = (out.delay ?? .zero) + d.fixedDelay }
            if out.abort == nil, let a = fault.abort, draw(a.percentage, &random) { out.abort = reply(a.status, grpc: grpc) }
        }
        return out
    }

    /// True for `percentage` % of draws; fractions of a percent count (0.1 % is 1 in 1000).
    static func draw(_ percentage: Double, _ random: inout some RandomNumberGenerator) -> Bool {
        if percentage >= 100 { return true }
        if percentage <= 0 { return false }
        return Double.random(in: 0..<100, using: &random) < percentage
    }

    /// Envoy's answers: `fault filter abort` with flag `FI`. A gRPC status goes in a
    /// trailers-only response (HTTP 200 with `grpc-status`), which is what gRPC clients read;
    /// an HTTP status to a gRPC call is sent as such and gRPC maps it (503 → UNAVAILABLE).
    static func reply(_ status: HTTPFault.Abort.Status, grpc: Bool) -> LocalReply {
        switch status {
        case .http(let code):
            return LocalReply(
                status: HTTPResponseStatus(statusCode: code), headers: ["content-type": "text/plain"], body: "fault filter abort",
                responseFlag: "FI")
        case .grpc(let code):
            return LocalReply(
                status: .ok,
                headers: ["content-type": "application/grpc", "grpc-status": String(code.rawValue), "grpc-message": "fault filter abort"],
                responseFlag: "FI")
        }
    }
}
