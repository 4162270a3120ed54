import NIOCore
import NIOPosix
import Testing

@testable import AmbitTelemetry

/// The registry and its Prometheus text: exact golden output, because scrapers are strict
/// and dashboards depend on names, order and number formats.
@Suite struct MetricsRegistryTests {
    // MARK: - Exposition

    @Test func expositionOfCountersAndGaugesIsSortedAndEscaped() {
        let registry = MetricsRegistry()
        let opened = registry.counter(
            "istio_tcp_connections_opened_total", help: "Connections opened.", labels: ["reporter", "source_workload"])
        let active = registry.gauge("ambit_active_connections", help: "Open connections.\nPer \\ node.")
        opened.labels(["source", "zeta"]).increment(by: 3)
        opened.labels(["destination", "quote\"back\\slash\nline"]).increment()
        opened.labels(["destination", "alpha"]).increment(by: 2)
        active.labels().set(4)
        active.labels().add(-1.5)

        #expect(
            registry.exposition() == """
                # HELP ambit_active_connections Open connections.\\nPer \\\\ node.
                # TYPE ambit_active_connections gauge
                ambit_active_connections 2.5
                # HELP istio_tcp_connections_opened_total Connections opened.
                # TYPE istio_tcp_connections_opened_total counter
                istio_tcp_connections_opened_total{reporter="destination",source_workload="alpha"} 2
                istio_tcp_connections_opened_total{reporter="destination",source_workload="quote\\"back\\\\slash\\nline"} 1
                istio_tcp_connections_opened_total{reporter="source",source_workload="zeta"} 3

                """)
    }

    @Test func histogramBucketsAreCumulativeWithInfSumAndCount() {
        let registry = MetricsRegistry()
        let duration = registry.histogram(
            "istio_request_duration_milliseconds", help: "Request duration.", labels: ["response_code"],
            buckets: [1, 2.5, 10])
        let ok = duration.labels(["200"])
        for value in [0.5, 1, 2, 3, 50] { ok.observe(value) }

        #expect(
            registry.exposition() == """
                # HELP istio_request_duration_milliseconds Request duration.
                # TYPE istio_request_duration_milliseconds histogram
                istio_request_duration_milliseconds_bucket{response_code="200",le="1"} 2
                istio_request_duration_milliseconds_bucket{response_code="200",le="2.5"} 3
                istio_request_duration_milliseconds_bucket{response_code="200",le="10"} 4
                istio_request_duration_milliseconds_bucket{response_code="200",le="+Inf"} 5
                istio_request_duration_milliseconds_sum{response_code="200"} 56.5
                istio_request_duration_milliseconds_count{response_code="200"} 5

                """)
        #expect(ok.cumulativeBuckets.map(\.count) == [2, 3, 4, 5])
        #expect(ok.count == 5 && ok.sum == 56.5)
    }

    @Test func unlabelledHistogramUsesIstioBucketsByDefault() {
        let registry = MetricsRegistry()
        let family = registry.histogram("ambit_handshake_milliseconds", help: "Handshake time.")
        #expect(family.buckets == HistogramBuckets.istioDurationMilliseconds)
        family.labels().observe(3_600_001)
        let text = registry.exposition()
        #expect(text.contains("ambit_handshake_milliseconds_bucket{le=\"0.5\"} 0\n"))
        #expect(text.contains("ambit_handshake_milliseconds_bucket{le=\"3600000\"} 0\n"))
        #expect(text.contains("ambit_handshake_milliseconds_bucket{le=\"+Inf\"} 1\n"))
        #expect(text.contains("ambit_handshake_milliseconds_count 1\n"))
    }

    @Test func labelledFamilyWithoutSeriesIsLeftOutButUnlabelledOneShowsZero() {
        let registry = MetricsRegistry()
        _ = registry.counter("b_total", help: "Has labels.", labels: ["x"])
        _ = registry.counter("a_total", help: "No labels.")
        #expect(registry.exposition() == "# HELP a_total No labels.\n# TYPE a_total counter\na_total 0\n")
    }

    @Test func numbersAreFormattedTheWayPrometheusParsesThem() {
        #expect(PrometheusText.format(1) == "1")
        #expect(PrometheusText.format(-3) == "-3")
        #expect(PrometheusText.format(0.25) == "0.25")
        #expect(PrometheusText.format(1e300) == "1e+300")
        #expect(PrometheusText.format(.infinity) == "+Inf")
        #expect(PrometheusText.format(-.infinity) == "-Inf")
        #expect(PrometheusText.format(.nan) == "NaN")
    }

    @Test func nameRules() {
        #expect(PrometheusText.isValidMetricName("istio_requests_total"))
        #expect(PrometheusText.isValidMetricName("ns:metric"))
        #expect(!PrometheusText.isValidMetricName("9lives"))
        #expect(!PrometheusText.isValidMetricName("has-dash"))
        #expect(PrometheusText.isValidLabelName("source_workload"))
        #expect(!PrometheusText.isValidLabelName("__reserved"))
        #expect(!PrometheusText.isValidLabelName("a:b"))
    }

    // MARK: - Registration

    @Test func registeringTheSameFamilyTwiceReturnsIt() {
        let registry = MetricsRegistry()
        let first = registry.counter("x_total", help: "X.", labels: ["a"])
        let second = registry.counter("x_total", help: "X.", labels: ["a"])
        #expect(first === second)
        second.labels(["1"]).increment()
        #expect(first.labels(["1"]).value == 1)
        let h1 = registry.histogram("h", help: "H.", buckets: [1, 2])
        #expect(h1 === registry.histogram("h", help: "H.", buckets: [1, 2]))
    }

    @Test func registeringANameWithAnotherShapeStopsTheProcess() async {
        await #expect(processExitsWith: .failure) {
            let registry = MetricsRegistry()
            _ = registry.counter("x_total", help: "X.", labels: ["a"])
            _ = registry.gauge("x_total", help: "X.", labels: ["a"])
        }
        await #expect(processExitsWith: .failure) {
            let registry = MetricsRegistry()
            _ = registry.counter("x_total", help: "X.", labels: ["a"])
            _ = registry.counter("x_total", help: "X.", labels: ["a", "b"])
        }
        await #expect(processExitsWith: .failure) {
            _ = MetricsRegistry().counter("x_total", help: "X.", labels: ["a"]).labels(["1", "2"])
        }
    }

    // MARK: - Series life cycle

    @Test func removedSeriesLeaveTheExposition() {
        let registry = MetricsRegistry()
        let sent = registry.counter("sent_total", help: "Sent.", labels: ["source_workload", "destination_workload"])
        let received = registry.gauge("open", help: "Open.", labels: ["destination_workload"])
        sent.labels(["a", "b"]).increment()
        sent.labels(["b", "c"]).increment()
        sent.labels(["c", "d"]).increment()
        sent.labels(["a", "e"]).increment(by: 7)
        received.labels(["b"]).set(1)
        received.labels(["d"]).set(1)

        #expect(sent.remove(["c", "d"]))
        #expect(!sent.remove(["c", "d"]))
        // Workload b left: every series naming it, in every family, goes.
        #expect(registry.removeSeries(whereLabel: "source_workload", equals: "b") == 1)
        #expect(registry.removeSeries(whereLabel: "destination_workload", equals: "b") == 2)
        #expect(registry.removeSeries(whereLabel: "no_such_label", equals: "b") == 0)
        #expect(
            registry.exposition() == """
                # HELP open Open.
                # TYPE open gauge
                open{destination_workload="d"} 1
                # HELP sent_total Sent.
                # TYPE sent_total counter
                sent_total{source_workload="a",destination_workload="e"} 7

                """)
        // Asking again starts a fresh series at zero.
        #expect(sent.labels(["a", "b"]).value == 0)
    }

    // MARK: - Concurrency

    @Test func concurrentIncrementsFromManyThreadsSumCorrectly() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 8)
        let registry = MetricsRegistry()
        let family = registry.counter("hits_total", help: "Hits.", labels: ["worker"])
        let histogram = registry.histogram("lat", help: "Latency.", buckets: [1, 10])
        let perThread = 20_000
        var futures: [EventLoopFuture<Void>] = []
        for loop in group.makeIterator() {
            futures.append(
                loop.submit {
                    // Half the work through a cached handle, half through a lookup each time,
                    // so both paths race with each other and with exposition.
                    let cached = family.labels(["shared"])
                    for i in 0..<perThread {
                        if i % 2 == 0 { cached.increment() } else { family.labels(["shared"]).increment() }
                        histogram.labels().observe(Double(i % 20))
                        if i % 5000 == 0 { _ = registry.exposition() }
                    }
                })
        }
        for future in futures { try await future.get() }
        #expect(family.labels(["shared"]).value == 8 * perThread)
        #expect(histogram.labels().count == 8 * perThread)
        #expect(histogram.labels().cumulativeBuckets.map(\.count) == [2 * 8 * perThread / 20, 11 * 8 * perThread / 20, 8 * perThread])
        try await group.shutdownGracefully()
    }
}
