/// `HTTPFault` (`ambit.dev/v1alpha1`): fault injection for chaos testing, which Gateway API
/// leaves to extensions. An HTTPRoute rule (or one of its backends) uses it through a
/// filter `{type: ExtensionRef, extensionRef: {group: ambit.dev, kind: HTTPFault, name: N}}`.
///
/// The fields are Istio's `HTTPFaultInjection` ones (`delay.fixedDelay`, `abort.httpStatus`,
/// `abort.grpcStatus`, `percentage.value`), so a VirtualService's `fault:` block moves over
/// by copying it.
public struct HTTPFault: Hashable, Sendable {
    /// Hold the request for a while before forwarding it.
    public struct Delay: Hashable, Sendable {
        /// Share of requests delayed, 0–100 (fractions allowed: 0.1 is one in a thousand).
        public var percentage: Double
        public var fixedDelay: Duration

        public init(percentage: Double, fixedDelay: Duration) {
            self.percentage = percentage
            self.fixedDelay = fixedDelay
        }
    }

    /// Answer the request at the waypoint instead of forwarding it.
    public struct Abort: Hashable, Sendable {
        public enum Status: Hashable, Sendable {
            /// An HTTP status, 200–599.
            case http(Int)
            /// A gRPC status code (`UNAVAILABLE` is 14), sent as a trailers-only response.
            case grpc(GRPCStatusCode)
        }

        /// Share of requests aborted, 0–100.
        public var percentage: Double
        public var status: Status

        public init(percentage: Double, status: Status) {
            self.percentage = percentage
            self.status = status
        }
    }

    public var metadata: ObjectMeta
    /// At least one of `delay` and `abort` is set.
    public var delay: Delay?
    public var abort: Abort?

    public init(metadata: ObjectMeta, delay: Delay? = nil, abort: Abort? = nil) {
        self.metadata = metadata
        self.delay = delay
        self.abort = abort
    }
}

/// gRPC status codes by the names Istio's `grpcStatus` takes (all capitals).
public enum GRPCStatusCode: Int, Hashable, Sendable, CaseIterable {
    case ok = 0, cancelled, unknown, invalidArgument, deadlineExceeded, notFound, alreadyExists
    case permissionDenied, resourceExhausted, failedPrecondition, aborted, outOfRange
    case unimplemented, `internal`, unavailable, dataLoss, unauthenticated

    /// `UNAVAILABLE`, `DEADLINE_EXCEEDED`: the spelling of grpc's statuscodes.md.
    public var name: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internal: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }

    public init?(name: String) {
        guard let code = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = code
    }
}
