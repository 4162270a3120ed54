import Logging
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

/// Exports the waypoint's server spans over OTLP/gRPC through swift-otel.
///
/// swift-otel is used as a library, not through the process-global `InstrumentationSystem`:
/// its tracer is kept here, each span is started with an explicit context that carries the
/// caller's `traceparent` (extracted by swift-otel's own W3C propagator), and the span's
/// ids are read back by injecting its context into a `traceparent` again. So the exported
/// span joins the client's trace with the caller's span as parent, and the upstream sees
/// exactly the span id swift-otel exported.
///
/// The sampling decision is the waypoint's (`TraceSampler`); swift-otel runs
/// `parentbased_always_on` and is only asked for spans already decided to be sampled.
///
/// Nothing here blocks a request: starting and ending a span take a lock briefly and hand
/// the span to swift-otel's background tasks (its batch processor then exports every
/// `scheduleDelay`, and drops beyond `maxQueueSize`). Spans are refused (and counted)
/// while the exporter is not running, and when `maxOpenSpans` sampled requests are already
/// in flight, so a stalled collector or a flood of sampled requests costs bounded memory.
///
/// Lifecycle: `run()` runs swift-otel's services until `shutdown()` (or the surrounding
/// `ServiceGroup`'s graceful shutdown), which flushes the spans still queued, then returns.
public final class OTLPTraceExporter: ServerSpanSink, Service, CustomStringConvertible {
    private enum Phase: UInt8 { case idle, running, stopped }

    public let configuration: TraceExportConfiguration
    public let maxOpenSpans: Int
    private let tracer: any Tracer
    private let services: ServiceGroup
    private let phase = Atomic<UInt8>(Phase.idle.rawValue)
    private let ran = Atomic<Bool>(false)
    private let openSpans = Atomic<Int>(0)
    private let started = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)

    /// Builds the exporter; nothing is sent until `run()`. OTEL_* environment variables
    /// override these settings, as the OpenTelemetry spec asks of every SDK.
    public init(
        configuration: TraceExportConfiguration, maxOpenSpans: Int = 4096,
        logger: Logger = Logger(label: "ambit.waypoint.tracing")
    ) throws(TracingError) {
        try configuration.validate()
        guard maxOpenSpans > 0 else { throw TracingError.invalidSetting("maxOpenSpans", "must be at least 1") }
        self.configuration = configuration
        self.maxOpenSpans = maxOpenSpans

        var otel = OTel.Configuration.default
        otel.serviceName = configuration.serviceName
        otel.resourceAttributes = configuration.resourceAttributes
        otel.diagnosticLogger = .custom(logger)
        otel.propagators = [.traceContext]
        otel.logs.enabled = false
        otel.metrics.enabled = false
        otel.traces.enabled = true
        otel.traces.sampler = .parentBasedAlwaysOn
        otel.traces.exporter = .otlp
        otel.traces.otlpExporter.protocol = .grpc
        otel.traces.otlpExporter.endpoint = configuration.endpoint
        otel.traces.otlpExporter.timeout = configuration.exportTimeout
        otel.traces.batchSpanProcessor.scheduleDelay = configuration.scheduleDelay
        otel.traces.batchSpanProcessor.maxQueueSize = configuration.maxQueueSize
        otel.traces.batchSpanProcessor.maxExportBatchSize = configuration.maxExportBatchSize
        otel.traces.batchSpanProcessor.exportTimeout = configuration.exportTimeout
        do {
            let backend = try OTel.makeTracingBackend(configuration: otel)
            tracer = backend.factory
            // A group of our own, without signal handlers (the daemon owns signals), so that
            // `shutdown()` can ask swift-otel for its graceful, flushing stop.
            services = ServiceGroup(services: [backend.service], logger: logger)
        } catch {
            throw TracingError.exporterFailed("\(error)")
        }
    }

    // MARK: - Lifecycle

    /// Runs the export pipeline until `shutdown()` or graceful shutdown of an enclosing
    /// `ServiceGroup`; spans are accepted only while this runs.
    public func run() async throws {
        guard !ran.exchange(true, ordering: .acquiringAndReleasing) else {
            throw TracingError.invalidSetting("run()", "was called twice; an exporter runs once")
        }
        // Fails only when `shutdown()` came first: the group below then starts and stops at once.
        _ = phase.compareExchange(expected: Phase.idle.rawValue, desired: Phase.running.rawValue, ordering: .acquiringAndReleasing)
        defer { stopAccepting() }
        try await withGracefulShutdownHandler {
            try await services.run()
        } onGracefulShutdown: {
            self.stopAccepting()
            Task { await self.services.triggerGracefulShutdown() }
        }
    }

    /// Stops taking spans and flushes those queued; `run()` returns once they are sent (or
    /// the export timeout passed). Safe to call before `run()` or more than once.
    public func shutdown() async {
        stopAccepting()
        await services.triggerGracefulShutdown()
    }

    private func stopAccepting() {
        phase.store(Phase.stopped.rawValue, ordering: .releasing)
    }

    public var isRunning: Bool { phase.load(ordering: .acquiring) == Phase.running.rawValue }

    /// Spans handed to swift-otel so far, and spans refused (not running, or too many open).
    public var statistics: (started: Int, refused: Int) {
        (started.load(ordering: .relaxed), refused.load(ordering: .relaxed))
    }

    public var description: String { "OTLPTraceExporter(\(configuration.endpoint), service \(configuration.serviceName))" }

    // MARK: - ServerSpanSink

    public func startServerSpan(_ start: ServerSpanStart) -> (any ServerSpanHandle)? {
        guard isRunning else {
            refused.add(1, ordering: .relaxed)
            return nil
        }
        guard openSpans.add(1, ordering: .relaxed).newValue <= maxOpenSpans else {
            openSpans.subtract(1, ordering: .relaxed)
            refused.add(1, ordering: .relaxed)
            return nil
        }
        var context = ServiceContext.topLevel
        if let parent = start.parent {
            tracer.extract(TraceParentCarrier(traceParent: parent.headerValue), into: &context, using: TraceParentCarrier.Access())
        }
        let span = tracer.startSpan(
            start.name, context: context, ofKind: .server,
            at: NanosecondInstant(start.startNanosecondsSinceEpoch),
            function: #function, file: #fileID, line: #line
        )
        var carrier = TraceParentCarrier()
        tracer.inject(span.context, into: &carrier, using: TraceParentCarrier.Access())
        // A span swift-otel will not record (an OTEL_TRACES_SAMPLER override said no) is no
        // span to name as the upstream's parent: the caller's ids travel on instead.
        guard span.isRecording, let ids = carrier.traceParent.flatMap({ TraceParent(parsing: $0) }) else {
            openSpans.subtract(1, ordering: .relaxed)
            refused.add(1, ordering: .relaxed)
            return nil
        }
        span.attributes = SpanAttributes(start.attributes)
        started.add(1, ordering: .relaxed)
        return OTelServerSpan(span: span, traceID: ids.traceID, spanID: ids.parentID, exporter: self)
    }

    fileprivate func spanEnded() {
        openSpans.subtract(1, ordering: .relaxed)
    }
}

// MARK: - Pieces

/// One started swift-otel span.
private final class OTelServerSpan: ServerSpanHandle {
    let span: any Span
    let traceID: TraceID
    let spanID: SpanID
    let exporter: OTLPTraceExporter
    private let ended = Atomic<Bool>(false)

    init(span: any Span, traceID: TraceID, spanID: SpanID, exporter: OTLPTraceExporter) {
        self.span = span
        self.traceID = traceID
        self.spanID = spanID
        self.exporter = exporter
    }

    func end(_ finish: ServerSpanFinish) {
        guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        span.updateAttributes { attributes in
            for (key, value) in finish.attributes { attributes[key] = value.spanAttribute }
        }
        if let error = finish.errorDescription { span.setStatus(SpanStatus(code: .error, message: error)) }
        span.end(at: NanosecondInstant(finish.endNanosecondsSinceEpoch))
        exporter.spanEnded()
    }

    deinit {
        // A request dropped without `end` must not hold a slot forever.
        if !ended.load(ordering: .acquiring) { exporter.spanEnded() }
    }
}

/// A `traceparent` (and nothing else) in and out of swift-otel's propagator, without a
/// dictionary per request.
private struct TraceParentCarrier: Sendable {
    var traceParent: String?

    struct Access: Extractor, Injector {
        func extract(key: String, from carrier: TraceParentCarrier) -> String? {
            key == TraceParent.headerName ? carrier.traceParent : nil
        }

        func inject(_ value: String, forKey key: String, into carrier: inout TraceParentCarrier) {
            if key == TraceParent.headerName { carrier.traceParent = value }
        }
    }
}

/// Span times come from the waypoint's injected clock rather than swift-otel's.
private struct NanosecondInstant: TracerInstant {
    let nanosecondsSinceEpoch: UInt64
    init(_ nanoseconds: UInt64) { nanosecondsSinceEpoch = nanoseconds }
    static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch }
}

extension SpanAttributeValue {
    fileprivate var spanAttribute: SpanAttribute {
        switch self {
        case .string(let value): .string(value)
        case .int(let value): .int64(value)
        }
    }
}

extension SpanAttributes {
    fileprivate init(_ values: [String: SpanAttributeValue]) {
        self.init()
        for (key, value) in values { self[key] = value.spanAttribute }
    }
}
