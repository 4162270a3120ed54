/// Where the waypoint's sampled server spans go. The OTLP exporter is the production sink;
/// tests record spans in memory. It exists as a seam because the span id must be known when
/// the request is forwarded (it goes into `traceparent`), and with swift-otel it is the
/// tracer, not us, that picks it: so the sink starts the span and reports the ids it got.
public protocol ServerSpanSink: Sendable {
    /// Starts a server span, or returns nil when the sink takes no spans right now (not
    /// running yet, shutting down, or full). Must not block: it runs on an event loop.
    func startServerSpan(_ start: ServerSpanStart) -> (any ServerSpanHandle)?
}

/// A started span. `end` is called once, from any thread.
public protocol ServerSpanHandle: Sendable {
    /// The trace the span joined (the caller's) or started.
    var traceID: TraceID { get }
    /// The span's own id: the parent id the upstream will see.
    var spanID: SpanID { get }
    func end(_ finish: ServerSpanFinish)
}

/// A span attribute value; OTLP's string and integer kinds cover what the waypoint records.
public enum SpanAttributeValue: Hashable, Sendable, CustomStringConvertible {
    case string(String)
    case int(Int64)

    public var description: String {
        switch self {
        case .string(let value): value
        case .int(let value): String(value)
        }
    }
}

/// What is known when the request arrives.
public struct ServerSpanStart: Hashable, Sendable {
    public var name: String
    /// The caller's span to continue; nil to start a new trace.
    public var parent: TraceParent?
    public var startNanosecondsSinceEpoch: UInt64
    public var attributes: [String: SpanAttributeValue]

    public init(
        name: String, parent: TraceParent?, startNanosecondsSinceEpoch: UInt64,
        attributes: [String: SpanAttributeValue]
    ) {
        self.name = name
        self.parent = parent
        self.startNanosecondsSinceEpoch = startNanosecondsSinceEpoch
        self.attributes = attributes
    }
}

/// What is known when the response has been sent (or the request failed).
public struct ServerSpanFinish: Hashable, Sendable {
    public var endNanosecondsSinceEpoch: UInt64
    public var attributes: [String: SpanAttributeValue]
    /// Marks the span failed (5xx, or no response at all), with a reason for the status.
    public var errorDescription: String?

    public init(
        endNanosecondsSinceEpoch: UInt64, attributes: [String: SpanAttributeValue], errorDescription: String?
    ) {
        self.endNanosecondsSinceEpoch = endNanosecondsSinceEpoch
        self.attributes = attributes
        self.errorDescription = errorDescription
    }
}
