@testable import AmbitWaypoint
import AmbitTesting
import NIOHTTP1
import Synchronization

/// SplitMix64: a tiny, well-mixed generator, so sampling and id tests replay exactly.
final class SeededTraceRandom: TraceRandomSource {
    private let state: Mutex<UInt64>
    private let draws = Atomic<Int>(0)

    init(seed: UInt64) { state = Mutex(seed) }

    func next() -> UInt64 {
        draws.add(1, ordering: .relaxed)
        return state.withLock { state in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    var drawCount: Int { draws.load(ordering: .relaxed) }
}

/// A sink that records what the tracer asked of it, handing out predictable span ids.
final class RecordingSpanSink: ServerSpanSink {
    struct Recorded: Sendable {
        var start: ServerSpanStart
        var traceID: TraceID
        var spanID: SpanID
        var finishes: [ServerSpanFinish] = []
    }

    private let state = Mutex<[Recorded]>([])
    private let refuse: Bool

    init(refuse: Bool = false) { self.refuse = refuse }

    var recorded: [Recorded] { state.withLock { $0 } }

    func startServerSpan(_ start: ServerSpanStart) -> (any ServerSpanHandle)? {
        guard !refuse else { return nil }
        return state.withLock { spans in
            let traceID = start.parent?.traceID ?? TraceID(high: 0xaaaa, low: UInt64(spans.count + 1))
            let spanID = SpanID(0x5000 + UInt64(spans.count))
            spans.append(Recorded(start: start, traceID: traceID, spanID: spanID))
            return Handle(sink: self, index: spans.count - 1, traceID: traceID, spanID: spanID)
        }
    }

    fileprivate func ended(_ index: Int, _ finish: ServerSpanFinish) {
        state.withLock { $0[index].finishes.append(finish) }
    }

    private struct Handle: ServerSpanHandle {
        let sink: RecordingSpanSink
        let index: Int
        let traceID: TraceID
        let spanID: SpanID
        func end(_ finish: ServerSpanFinish) { sink.ended(index, finish) }
    }
}

func tracingRequestHead(_ headers: [(String, String)], uri: String = "/cart/items?id=7", host: String = "cart.shop.svc:8080") -> HTTPRequestHead {
    var all = HTTPHeaders([("host", host)])
    all.add(contentsOf: headers)
    return HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: all)
}

let clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
let clientSpan = "00f067aa0ba902b7"

/// The `traceparent` a rewritten request carries upstream.
func forwardedTraceParent(_ head: HTTPRequestHead) throws -> TraceParent {
    guard let value = head.headers.first(name: "traceparent") else {
        throw TestFailure("the forwarded request has no traceparent: \(head.headers)")
    }
    guard let parent = TraceParent(parsing: value) else {
        throw TestFailure("the forwarded traceparent '\(value)' does not parse")
    }
    return parent
}
