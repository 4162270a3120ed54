/// How one attempt at an upstream ended, in the terms that retries and outlier detection
/// decide on. The proxy builds one per attempt and hands the same value to `RetryState`
/// (retry or not) and to `OutlierDetector` (is this host failing).
///
/// The cases follow Envoy's retry classes, because they differ in one thing that matters
/// for safety: whether the upstream application may have acted on the request.
/// `connectFailure` and `refusedStream` prove it did not; `reset` and `perTryTimeout`
/// leave it unknown; a status says the application answered.
public enum AttemptOutcome: Hashable, Sendable {
    /// Response headers arrived with this HTTP status.
    case status(Int)
    /// A gRPC response that ended in its headers (trailers-only) with a non-OK
    /// `grpc-status`. Once a gRPC response has streamed a message it can no longer be
    /// retried, so only this form is ever a retry candidate.
    case grpcStatus(Int)
    /// The TCP/HBONE connection to the endpoint could not be opened.
    case connectFailure
    /// HTTP/2 `REFUSED_STREAM`, or a GOAWAY that excluded the stream: the server promises
    /// it did not process the request.
    case refusedStream
    /// The upstream reset or closed the stream after the request went out and before
    /// response headers.
    case reset
    /// `timeouts.backendRequest` ran out before response headers.
    case perTryTimeout

    /// Builds the outcome from response headers: a `grpc-status` header other than `0`
    /// on the headers themselves (a trailers-only response) wins over the HTTP status,
    /// which is 200 for every gRPC response.
    public init(httpStatus: Int, grpcStatusHeader: String?) {
        if let text = grpcStatusHeader, let code = Int(text), code != 0 {
            self = .grpcStatus(code)
        } else {
            self = .status(httpStatus)
        }
    }

    /// True when the application may have processed the request, so repeating it could
    /// repeat a side effect.
    public var mayHaveReachedApplication: Bool {
        switch self {
        case .connectFailure, .refusedStream: false
        case .status, .grpcStatus, .reset, .perTryTimeout: true
        }
    }
}

/// The gRPC status codes Envoy's `retry_on` can name, mapped to the HTTP status a
/// Gateway API `retry.codes` list uses for the same condition.
///
/// GEP-1731 only speaks HTTP codes, so a GRPCRoute (or an HTTPRoute carrying gRPC) says
/// "retry UNAVAILABLE" by listing 503. The mapping is the one gRPC's own HTTP gateway
/// uses; no other gRPC code is retriable, as in Envoy.
public enum GRPCRetryMapping {
    public static let cancelled = 1
    public static let deadlineExceeded = 4
    public static let resourceExhausted = 8
    public static let `internal` = 13
    public static let unavailable = 14

    /// The HTTP status a retry policy must list for this gRPC status to be retried, or
    /// nil when the status is never retried.
    public static func httpStatus(forGRPCStatus code: Int) -> Int? {
        switch code {
        case cancelled: 499  // nginx's "client closed request", as grpc-gateway maps it
        case deadlineExceeded: 504
        case resourceExhausted: 429
        case `internal`: 500
        case unavailable: 503
        default: nil
        }
    }
}

/// RFC 9110 §9.2.2: repeating one of these has the same intended effect as sending it
/// once. Anything else (POST, PATCH, CONNECT, an extension method) is treated as not
/// idempotent, the safe reading for a method the proxy does not know.
public enum IdempotentMethods {
    public static func contains(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE": true
        default: false
        }
    }
}
