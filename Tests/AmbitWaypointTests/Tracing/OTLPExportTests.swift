@testable import AmbitWaypoint
import AmbitTesting
import Foundation
import Testing

/// The span leaves through swift-otel's OTLP/gRPC exporter and is read back by a receiver
/// built from the official OpenTelemetry protos (scripts/lib/otlp_receiver.py).
@Suite("OTLP export to a real receiver")
struct OTLPExportTests {
    func startExporter(_ receiver: OTLPReceiver, scheduleDelay: Duration = .milliseconds(100)) async throws
        -> (OTLPTraceExporter, Task<Void, any Error>)
    {
        let exporter = try OTLPTraceExporter(
            configuration: TraceExportConfiguration(
                endpoint: receiver.endpoint, serviceName: "waypoint.shop",
                resourceAttributes: ["service.namespace": "shop"], scheduleDelay: scheduleDelay
            )
        )
        let running = Task { try await exporter.run() }
        let deadline = Date().addingTimeInterval(5)
        while !exporter.isRunning {
            guard Date() < deadline else { throw TestFailure("the exporter did not start running within 5 s") }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        return (exporter, running)
    }

    @Test func theWaypointsSpanJoinsTheClientsTrace() async throws {
        let receiver = try await OTLPReceiver.start()
        do {
            let (exporter, running) = try await startExporter(receiver)
            // Rate 0: only the client's "sampled" flag can make this request sampled.
            let tracer = RequestTracer(sink: exporter, sampler: TraceSampler(rate: 0))

            var head = tracingRequestHead([("traceparent", "00-\(clientTrace)-\(clientSpan)-01")])
            let trace = tracer.begin(&head, sourcePrincipal: "spiffe://cluster.local/ns/shop/sa/web")
            let upstreamParent = try forwardedTraceParent(head)
            trace.end(status: 503, responseFlags: "UF", upstreamCluster: "outbound|8080||cart.shop.svc.cluster.local")

            let span = try await receiver.waitForSpan { $0.traceID == clientTrace }
            #expect(span.parentSpanID == clientSpan)
            #expect(span.spanID == upstreamParent.parentID.hex, "the upstream must see the exported span as its parent")
            #expect(upstreamParent.traceID.hex == clientTrace)
            #expect(span.name == "cart.shop.svc:8080/cart/items")
            #expect(span.kind == "SPAN_KIND_SERVER")
            #expect(span.serviceName == "waypoint.shop")
            #expect(span.resource["service.namespace"] == "shop")
            #expect(span.statusCode == "STATUS_CODE_ERROR")
            #expect(span.attributes["http.request.method"] == "GET")
            #expect(span.attributes["url.path"] == "/cart/items")
            #expect(span.attributes["http.response.status_code"] == "503")
            #expect(span.attributes["server.address"] == "cart.shop.svc")
            #expect(span.attributes["upstream_cluster"] == "outbound|8080||cart.shop.svc.cluster.local")
            #expect(span.attributes["response_flags"] == "UF")
            #expect(span.attributes["source.principal"] == "spiffe://cluster.local/ns/shop/sa/web")
            #expect(span.endTimeUnixNano >= span.startTimeUnixNano && span.startTimeUnixNano > 0)

            // The same request marked "not sampled" by its client is propagated, not exported.
            var unsampled = tracingRequestHead([("traceparent", "00-\(clientTrace)-1111111111111111-00")])
            let quiet = tracer.begin(&unsampled)
            #expect(!quiet.isExported)
            quiet.end(status: 200)

            await exporter.shutdown()
            try await running.value
            #expect(try receiver.spans().filter { $0.parentSpanID == "1111111111111111" }.isEmpty)
            #expect(exporter.statistics.started == 1)
        } catch {
            await receiver.stop()
            throw error
        }
        await receiver.stop()
    }

    @Test func aRootSpanCarriesTheTraceIDTheUpstreamSees() async throws {
        let receiver = try await OTLPReceiver.start()
        do {
            let (exporter, running) = try await startExporter(receiver)
            let tracer = RequestTracer(sink: exporter, sampler: TraceSampler(rate: 1))
            var head = tracingRequestHead([("x-b3-sampled", "1")])
            let trace = tracer.begin(&head)
            trace.end(status: 200)
            let upstream = try forwardedTraceParent(head)
            let span = try await receiver.waitForSpan { $0.spanID == upstream.parentID.hex }
            #expect(span.traceID == upstream.traceID.hex)
            #expect(span.parentSpanID == "")
            #expect(span.statusCode == "STATUS_CODE_UNSET")
            #expect(head.headers["x-b3-traceid"] == [upstream.traceID.hex])
            await exporter.shutdown()
            try await running.value
        } catch {
            await receiver.stop()
            throw error
        }
        await receiver.stop()
    }

    @Test func shutdownFlushesSpansStillQueued() async throws {
        let receiver = try await OTLPReceiver.start()
        do {
            // A batch delay far beyond the test: only the shutdown flush can deliver the span.
            let (exporter, running) = try await startExporter(receiver, scheduleDelay: .seconds(600))
            let tracer = RequestTracer(sink: exporter, sampler: TraceSampler(rate: 1))
            var head = tracingRequestHead([])
            tracer.begin(&head).end(status: 201)
            try await Task.sleep(nanoseconds: 200_000_000)
            #expect(try receiver.spans().isEmpty)
            await exporter.shutdown()
            try await running.value
            _ = try await receiver.waitForSpan(timeout: 5) { $0.attributes["http.response.status_code"] == "201" }
            // Stopped: spans are refused (and counted), requests still propagate.
            var late = tracingRequestHead([])
            #expect(!tracer.begin(&late).isExported)
            #expect(late.headers.contains(name: "traceparent"))
            #expect(exporter.statistics.refused == 1)
        } catch {
            await receiver.stop()
            throw error
        }
        await receiver.stop()
    }

    @Test func anExporterThatIsNotRunningRefusesSpans() throws {
        let exporter = try OTLPTraceExporter(
            configuration: .waypoint(name: "waypoint", namespace: "shop", endpoint: "http://127.0.0.1:4317"))
        #expect(exporter.configuration.serviceName == "waypoint.shop")
        let start = ServerSpanStart(name: "x", parent: nil, startNanosecondsSinceEpoch: 1, attributes: [:])
        #expect(exporter.startServerSpan(start) == nil)
        #expect(exporter.statistics.refused == 1)
    }

    @Test func aMissingReceiverInterpreterIsNamedWithTheFix() async {
        await #expect {
            _ = try await OTLPReceiver.start(python: "/nonexistent/ambit-venv/bin/python3")
        } throws: { error in
            let message = "\(error)"
            return message.contains("/nonexistent/ambit-venv/bin/python3") && message.contains("ensure_otlp_receiver")
                && message.contains("opentelemetry-proto")
        }
    }

    @Test func anInterpreterWithoutThePackagesIsReportedBeforeTheTestWaits() async throws {
        // The system Python (no grpcio in it) gets as far as importing, then says what to install.
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let python, !Self.hasGRPC(python) else { return }
        await #expect {
            _ = try await OTLPReceiver.start(python: python, timeout: 10)
        } throws: { error in
            "\(error)".contains("ensure_otlp_receiver") && "\(error)".contains("ended with exit status 3")
        }
    }

    static func hasGRPC(_ python: String) -> Bool {
        let prefix = NSTemporaryDirectory() + "ambit-grpc-probe-\(getpid())"
        defer {
            try? FileManager.default.removeItem(atPath: prefix + ".out")
            try? FileManager.default.removeItem(atPath: prefix + ".err")
        }
        guard let process = try? TestProcess.spawn([python, "-c", "import grpc"], outputPrefix: prefix) else { return true }
        let status = (0..<500).lazy.compactMap { _ -> AmbitTesting.ExitStatus? in
            usleep(10_000)
            return process.exitStatus
        }.first
        return status == .exited(0)
    }

    @Test(arguments: ["127.0.0.1:4317", "grpc://collector:4317", "collector"])
    func aBadEndpointIsRejectedWithAHint(_ endpoint: String) {
        #expect {
            try OTLPTraceExporter(configuration: TraceExportConfiguration(endpoint: endpoint, serviceName: "w.ns"))
        } throws: { error in
            "\(error)".contains("http://HOST:PORT")
        }
    }
}
